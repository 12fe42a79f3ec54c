using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using Notifications.Tasks;
using StackExchange.Redis;

namespace NotificationWorker.Delivery;

public sealed class LegacyIntakeOptions
{
    public const string SectionName = "LegacyIntake";

    public bool Enabled { get; set; } = true;

    /// <summary>The list the old Python backend pushes to with <c>LPUSH</c>.</summary>
    [Required]
    public string ListKey { get; set; } = "notification_queue";

    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Takes tasks that the old backend still pushes with <c>LPUSH notification_queue &lt;json&gt;</c> into the
/// reliable queue, so both backends can run during the migration.
/// </summary>
/// <remarks>
/// Each payload is first moved (LMOVE, atomic) to an intake list beside the legacy list, then
/// enqueued, then removed from the intake list. A crash at any point leaves it in one of the two
/// lists, and the intake list is drained first on start. Enqueueing uses an idempotency key made
/// from the payload, so a payload enqueued just before a crash is not queued twice when drained
/// again. The intake list's key carries the legacy key as its hash tag, so on Redis Cluster both
/// sit in one slot and LMOVE works.
/// </remarks>
public sealed partial class LegacyQueueIntake(
    IConnectionMultiplexer redis,
    NotificationQueue queue,
    DeadLetters deadLetters,
    DeliveryHandler deliveryLog,
    IOptions<LegacyIntakeOptions> options,
    IOptions<QueueOptions> queueOptions,
    TimeProvider time,
    ILogger<LegacyQueueIntake> logger) : BackgroundService
{
    private const int BatchSize = 500;

    private readonly LegacyIntakeOptions _options = options.Value;

    public RedisKey IntakeKey => "{" + _options.ListKey + "}:intake";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }
        var db = redis.GetDatabase();
        while (!stoppingToken.IsCancellationRequested)
        {
            int taken;
            try
            {
                taken = await DrainOnceAsync(db, stoppingToken);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogRedisUnavailable(ex);
                taken = 0;
            }
            if (taken < BatchSize)
            {
                try
                {
                    await Task.Delay(_options.PollInterval, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Moves up to one batch from the legacy list into the queue; returns how many payloads it handled.</summary>
    public async Task<int> DrainOnceAsync(IDatabase db, CancellationToken cancellationToken)
    {
        // Leftovers of a previous run first: they were moved but may not have been enqueued.
        var payloads = (await db.ListRangeAsync(IntakeKey, 0, BatchSize - 1)).ToList();
        while (payloads.Count < BatchSize)
        {
            // LPUSH in, so the oldest is on the right; LMOVE RIGHT LEFT keeps the order in the intake list.
            var moved = await db.ListMoveAsync(_options.ListKey, IntakeKey, ListSide.Right, ListSide.Left);
            if (moved.IsNull)
            {
                break;
            }
            payloads.Add(moved);
        }
        foreach (var payload in payloads)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await TakeInAsync((string)payload!, cancellationToken);
            await db.ListRemoveAsync(IntakeKey, payload, count: -1);
        }
        return payloads.Count;
    }

    private async Task TakeInAsync(string payload, CancellationToken cancellationToken)
    {
        NotificationRequest request;
        try
        {
            request = ToRequest(payload);
        }
        catch (Exception ex) when (ex is JsonException or InvalidNotificationException)
        {
            await RejectAsync(payload, ex.Message, cancellationToken);
            return;
        }
        try
        {
            var result = await queue.EnqueueAsync(request, cancellationToken);
            LogTakenIn(result.TaskId, result.Duplicate);
        }
        catch (InvalidNotificationException ex)
        {
            await RejectAsync(payload, ex.Message, cancellationToken);
        }
    }

    private async Task RejectAsync(string payload, string reason, CancellationToken cancellationToken)
    {
        var added = await deadLetters.AddUnreadableAsync(payload, $"Legacy task rejected: {reason}", cancellationToken);
        LogRejected(added.Id, reason);
        // The caps may have removed older dead letters to make room: each gets its Dead record.
        foreach (var task in added.Evicted.Tasks)
        {
            await deliveryLog.QueueEndedAsync(task, DeadLetterEvictions.Reason(queueOptions.Value), cancellationToken);
        }
    }

    /// <summary>Reads a task in the old plan's schema; its own id and counters are kept in the idempotency key only.</summary>
    private NotificationRequest ToRequest(string payload)
    {
        var legacy = TaskJson.Deserialize(Encoding.UTF8.GetBytes(payload));
        var remainingRetries = Math.Max(0, (legacy.MaxRetries > 0 ? legacy.MaxRetries : queueOptions.Value.DefaultMaxRetries) - legacy.RetryCount);
        return new NotificationRequest
        {
            Type = legacy.Type,
            Data = legacy.Data ?? throw new JsonException("The task has no data."),
            Priority = legacy.Priority,
            MaxRetries = remainingRetries,
            IdempotencyKey = "legacy:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(payload))),
        };
    }

    [LoggerMessage(LogLevel.Information, "Took in legacy task as {TaskId} (already queued: {Duplicate})")]
    private partial void LogTakenIn(string taskId, bool duplicate);

    [LoggerMessage(LogLevel.Warning, "A legacy task could not be read and was dead-lettered as {DeadLetterId}: {Reason}")]
    private partial void LogRejected(string deadLetterId, string reason);

    [LoggerMessage(LogLevel.Warning, "Redis did not answer while taking in legacy tasks; retrying")]
    private partial void LogRedisUnavailable(Exception exception);
}
