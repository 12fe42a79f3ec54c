using System.Text.Json;
using Microsoft.Extensions.Logging;
using Notifications.Tasks;
using StackExchange.Redis;

namespace Notifications.Queue;

/// <summary>
/// The dead letters a script's caps removed (at most <see cref="QueueOptions.DeadLetterMaxCount"/>,
/// none older than <see cref="QueueOptions.DeadLetterMaxAge"/>), read from the (id, body) pairs the
/// scripts return. Every removal is counted and logged here, wherever it happened, and the readable
/// ones are returned so the caller can write each to the delivery log: nothing is deleted silently.
/// </summary>
public sealed record DeadLetterEvictions(IReadOnlyList<string> Ids, IReadOnlyList<NotificationTask> Tasks)
{
    private static readonly DeadLetterEvictions None = new([], []);

    public int Count => Ids.Count;

    public static DeadLetterEvictions Read(ReadOnlySpan<RedisResult> pairs)
    {
        if (pairs.Length < 2)
        {
            return None;
        }
        var ids = new List<string>(pairs.Length / 2);
        for (var i = 0; i + 1 < pairs.Length; i += 2)
        {
            ids.Add((string)pairs[i]!);
        }
        return new DeadLetterEvictions(ids, ReadTasks(pairs));
    }

    /// <summary>The readable tasks of (id, body) pairs as the scripts return them; an unreadable body never had a delivery record.</summary>
    public static IReadOnlyList<NotificationTask> ReadTasks(ReadOnlySpan<RedisResult> pairs)
    {
        var tasks = new List<NotificationTask>(pairs.Length / 2);
        for (var i = 0; i + 1 < pairs.Length; i += 2)
        {
            if (ReadTask(pairs[i + 1]) is { } task)
            {
                tasks.Add(task);
            }
        }
        return tasks;
    }

    private static NotificationTask? ReadTask(RedisResult body)
    {
        try
        {
            return TaskJson.Deserialize((byte[])body!);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Counts the removals in the metric and logs them with their ids; no-op when there are none.</summary>
    public void Report(QueueMetrics? metrics, ILogger logger, QueueOptions options)
    {
        if (Count == 0)
        {
            return;
        }
        metrics?.DeadEvicted(Count);
        EvictionLog.Evicted(logger, Count, options.DeadLetterMaxCount, options.DeadLetterMaxAge, string.Join(", ", Ids));
    }

    /// <summary>The reason written to the delivery log of each removed task.</summary>
    public static string Reason(QueueOptions options) =>
        $"Removed from the dead letters by their caps (at most {options.DeadLetterMaxCount}, {options.DeadLetterMaxAge.TotalDays:0.#} days).";
}

internal static partial class EvictionLog
{
    [LoggerMessage(LogLevel.Warning, "Removed {Count} dead letters past the caps (at most {MaxCount}, {MaxAge} old): {TaskIds}")]
    public static partial void Evicted(ILogger logger, int count, int maxCount, TimeSpan maxAge, string taskIds);
}
