using System.Globalization;
using Microsoft.Extensions.Options;
using Notifications.Tasks;
using StackExchange.Redis;

namespace Notifications.Queue;

/// <summary>Reads the queue's depth, counters and throughput in one pipelined round trip, and single unfinished tasks.</summary>
public sealed class QueueMonitor(IConnectionMultiplexer redis, IOptions<QueueOptions> options, TimeProvider time, QueueMetrics metrics)
{
    private const int ThroughputMinutes = 60;
    private readonly QueueKeys _keys = new(options.Value.Name);

    public async Task<QueueStats> GetStatsAsync(CancellationToken cancellationToken = default)
    {
        var batch = redis.GetDatabase().CreateBatch();
        var pending = new Task<long>[QueueKeys.LaneCount];
        var scheduled = new Task<long>[QueueKeys.LaneCount];
        var leased = new Task<long>[QueueKeys.LaneCount];
        var oldest = new Task<RedisValue>[QueueKeys.LaneCount];
        for (var lane = 0; lane < QueueKeys.LaneCount; lane++)
        {
            pending[lane] = batch.ListLengthAsync(_keys.Pending[lane]);
            scheduled[lane] = batch.SortedSetLengthAsync(_keys.Scheduled[lane]);
            leased[lane] = batch.SortedSetLengthAsync(_keys.Leased[lane]);
            oldest[lane] = batch.ListGetByIndexAsync(_keys.Pending[lane], -1); // LPUSH in, RPOP out: the tail is the oldest
        }
        var dead = batch.SortedSetLengthAsync(_keys.Dead);
        var counters = batch.HashGetAllAsync(_keys.Stats);
        var now = time.GetUtcNow();
        var thisMinute = now.ToUnixTimeSeconds() / 60;
        var minuteKeys = Enumerable.Range(0, ThroughputMinutes).Select(i => _keys.Throughput(thisMinute - ThroughputMinutes + 1 + i)).ToArray();
        var throughput = batch.StringGetAsync(minuteKeys);
        batch.Execute();

        await Task.WhenAll(pending.Concat(scheduled).Concat(leased).Append(dead)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var counterValues = (await counters.ConfigureAwait(false)).ToDictionary(e => (string)e.Name!, e => (long)e.Value);
        var minuteValues = await throughput.ConfigureAwait(false);

        TimeSpan? oldestAge = null;
        foreach (var tail in oldest)
        {
            var id = await tail.ConfigureAwait(false);
            if (!id.IsNullOrEmpty && TaskIds.TryGetCreatedAt(id!, out var createdAt))
            {
                var age = now - createdAt;
                oldestAge = oldestAge is null || age > oldestAge ? age : oldestAge;
            }
        }

        var stats = new QueueStats
        {
            Lanes = [.. Enumerable.Range(0, QueueKeys.LaneCount).Select(lane =>
                new LaneStats(QueueKeys.PriorityOf(lane), pending[lane].Result, scheduled[lane].Result, leased[lane].Result))],
            Dead = dead.Result,
            Counters = new QueueCounters(
                Count("enqueued"), Count("processed"), Count("failed"), Count("retried"),
                Count("dead_lettered"), Count("recovered"), Count("revived"), Count("postponed"), Count("poisoned"), Count("dead_evicted")),
            OldestPendingAge = oldestAge < TimeSpan.Zero ? TimeSpan.Zero : oldestAge,
            Throughput = [.. minuteValues.Select((value, i) => new MinuteThroughput(
                DateTimeOffset.FromUnixTimeSeconds((thisMinute - ThroughputMinutes + 1 + i) * 60),
                value.IsNull ? 0 : long.Parse((string)value!, CultureInfo.InvariantCulture)))],
        };
        metrics.Observe(stats);
        return stats;

        long Count(string name) => counterValues.TryGetValue(name, out var value) ? value : 0;
    }

    /// <summary>
    /// An unfinished task (pending, leased, waiting for a retry or dead) as it was queued; null when the queue
    /// has no such task (it was never queued, or it is finished and its body deleted) or its body is unreadable.
    /// </summary>
    public async Task<NotificationTask?> FindTaskAsync(string taskId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(taskId);
        var body = await redis.GetDatabase().HashGetAsync(_keys.Tasks, taskId).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (body.IsNull)
        {
            return null;
        }
        try
        {
            return TaskJson.Deserialize((byte[])body!);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
