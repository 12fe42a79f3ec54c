using Microsoft.Extensions.Options;
using Notifications.Tasks;
using StackExchange.Redis;

namespace Notifications.Queue;

/// <summary>
/// The producer side of the notification queue: enqueue tasks. Throws when Redis does not take them
/// (never returns "false" and carries on, as the old plan did). The Api does not call it on a request's
/// path: its notifications go through the outbox in the system of record, which the outbox relay moves
/// here; the worker's legacy intake calls it directly.
/// </summary>
public sealed class NotificationQueue
{
    /// <summary>Tasks per script call: Lua's unpack limit is a few thousand values.</summary>
    public const int EnqueueChunkSize = 1000;

    private readonly IDatabase _db;
    private readonly ISubscriber _subscriber;
    private readonly NotificationTaskFactory _factory;
    private readonly QueueMetrics _metrics;
    private readonly long _idempotencyWindowMs;
    private readonly RedisKey[][] _singleEnqueueKeys;

    public NotificationQueue(IConnectionMultiplexer redis, IOptions<QueueOptions> options, TimeProvider time, QueueMetrics metrics)
    {
        var settings = options.Value;
        Keys = new QueueKeys(settings.Name);
        _db = redis.GetDatabase();
        _subscriber = redis.GetSubscriber();
        _factory = new NotificationTaskFactory(options, time);
        _metrics = metrics;
        _idempotencyWindowMs = (long)settings.IdempotencyWindow.TotalMilliseconds;
        _singleEnqueueKeys = [.. Keys.Pending.Select(pending => new RedisKey[] { Keys.Tasks, pending, Keys.Stats })];
    }

    public QueueKeys Keys { get; }

    /// <summary>Enqueues one task. When this returns, Redis has it.</summary>
    public async Task<EnqueueResult> EnqueueAsync(NotificationRequest request, CancellationToken cancellationToken = default) =>
        (await EnqueueManyAsync([request], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>
    /// Enqueues many tasks with one script call per lane and thousand tasks, all sent in one
    /// pipeline. Every request is validated first: one invalid request queues nothing.
    /// </summary>
    public Task<IReadOnlyList<EnqueueResult>> EnqueueManyAsync(IReadOnlyList<NotificationRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        return EnqueueManyAsync(_factory.PrepareAll(requests), cancellationToken);
    }

    /// <summary>
    /// Enqueues tasks prepared earlier (the outbox's), under their own ids. A task whose idempotency key is
    /// already known within the window is not added again: its result names the task that has the key, which
    /// is this same task when it was moved once before.
    /// </summary>
    public async Task<IReadOnlyList<EnqueueResult>> EnqueueManyAsync(IReadOnlyList<PreparedTask> prepared, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        var calls = new List<(int[] Indexes, Task<EnqueueResult[]> Call)>();
        for (var lane = 0; lane < QueueKeys.LaneCount; lane++)
        {
            var inLane = Enumerable.Range(0, prepared.Count).Where(i => QueueKeys.LaneOf(prepared[i].Task.Priority) == lane).ToArray();
            foreach (var chunk in inLane.Chunk(EnqueueChunkSize))
            {
                calls.Add((chunk, SendChunkAsync(lane, [.. chunk.Select(i => prepared[i].Task)], [.. chunk.Select(i => prepared[i].Body)])));
            }
        }

        var results = new EnqueueResult[prepared.Count];
        foreach (var (indexes, call) in calls)
        {
            var chunkResults = await call.WaitAsync(cancellationToken).ConfigureAwait(false);
            for (var j = 0; j < indexes.Length; j++)
            {
                results[indexes[j]] = chunkResults[j];
            }
        }
        return results;
    }

    /// <summary>One script call for tasks of one lane; the common single task without idempotency key takes the short script.</summary>
    private async Task<EnqueueResult[]> SendChunkAsync(int lane, NotificationTask[] tasks, byte[][] bodies)
    {
        EnqueueResult[] results;
        long length;
        int added;
        if (tasks.Length == 1 && tasks[0].IdempotencyKey is null)
        {
            length = (long)await _db.ScriptEvaluateAsync(QueueScripts.EnqueueOne, _singleEnqueueKeys[lane], [tasks[0].Id, bodies[0]]).ConfigureAwait(false);
            results = [new EnqueueResult(tasks[0].Id, false)];
            added = 1;
        }
        else
        {
            var reply = (RedisResult[])(await EnqueueChunk(lane, tasks, bodies).ConfigureAwait(false))!;
            results = new EnqueueResult[tasks.Length];
            for (var j = 0; j < tasks.Length; j++)
            {
                var id = (string)reply[j]!;
                results[j] = new EnqueueResult(id, id != tasks[j].Id);
            }
            length = (long)reply[tasks.Length];
            added = (int)reply[tasks.Length + 1];
        }
        if (added > 0 && length <= added)
        {
            // Consumers poll anyway; a wake-up is only needed when the lane was empty, so they may be idle.
            _subscriber.Publish(Keys.WakeChannel, RedisValue.EmptyString, CommandFlags.FireAndForget);
        }
        _metrics.Enqueued(added);
        return results;
    }

    private Task<RedisResult> EnqueueChunk(int lane, NotificationTask[] tasks, byte[][] bodies)
    {
        var keys = new List<RedisKey>(3) { Keys.Tasks, Keys.Pending[lane], Keys.Stats };
        var args = new RedisValue[1 + tasks.Length * 3];
        args[0] = _idempotencyWindowMs;
        for (var j = 0; j < tasks.Length; j++)
        {
            var keyIndex = 0;
            if (tasks[j].IdempotencyKey is { } idempotencyKey)
            {
                keys.Add(Keys.Idempotency(idempotencyKey));
                keyIndex = keys.Count;
            }
            args[1 + j * 3] = tasks[j].Id;
            args[2 + j * 3] = bodies[j];
            args[3 + j * 3] = keyIndex;
        }
        return _db.ScriptEvaluateAsync(QueueScripts.Enqueue, [.. keys], args);
    }
}
