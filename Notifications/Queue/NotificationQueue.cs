using System.Diagnostics;
using Microsoft.Extensions.Options;
using Notifications.Tasks;
using StackExchange.Redis;

namespace Notifications.Queue;

/// <summary>
/// The producer side of the notification queue: enqueue one or many tasks. Throws when Redis does
/// not take the task (never returns "false" and carries on, as the old plan did); the Api then
/// spools it to disk.
/// </summary>
public sealed class NotificationQueue
{
    /// <summary>Tasks per script call in a bulk enqueue: Lua's unpack limit is a few thousand values.</summary>
    internal const int EnqueueChunkSize = 1000;

    private readonly IDatabase _db;
    private readonly ISubscriber _subscriber;
    private readonly QueueOptions _options;
    private readonly TimeProvider _time;
    private readonly QueueMetrics _metrics;
    private readonly long _idempotencyWindowMs;
    private readonly RedisKey[][] _singleEnqueueKeys;

    public NotificationQueue(IConnectionMultiplexer redis, IOptions<QueueOptions> options, TimeProvider time, QueueMetrics metrics)
    {
        _options = options.Value;
        Keys = new QueueKeys(_options.Name);
        _db = redis.GetDatabase();
        _subscriber = redis.GetSubscriber();
        _time = time;
        _metrics = metrics;
        _idempotencyWindowMs = (long)_options.IdempotencyWindow.TotalMilliseconds;
        _singleEnqueueKeys = [.. Keys.Pending.Select(pending => new RedisKey[] { Keys.Tasks, pending, Keys.Stats })];
    }

    public QueueKeys Keys { get; }

    /// <summary>Enqueues one task in one script call: the path every form submission takes.</summary>
    public async Task<EnqueueResult> EnqueueAsync(NotificationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        NotificationRequestRules.Validate(request);
        var (task, body) = CreateTask(request, _time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0, Activity.Current);
        var lane = (int)task.Priority;
        string id;
        long length;
        int added;
        if (task.IdempotencyKey is { } idempotencyKey)
        {
            var reply = (RedisResult[])(await _db.ScriptEvaluateAsync(QueueScripts.Enqueue,
                [Keys.Tasks, Keys.Pending[lane], Keys.Stats, Keys.Idempotency(idempotencyKey)],
                [_idempotencyWindowMs, task.Id, body, 4]).WaitAsync(cancellationToken).ConfigureAwait(false))!;
            (id, length, added) = ((string)reply[0]!, (long)reply[1], (int)reply[2]);
        }
        else
        {
            var reply = await _db.ScriptEvaluateAsync(QueueScripts.EnqueueOne, _singleEnqueueKeys[lane], [task.Id, body])
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            (id, length, added) = (task.Id, (long)reply, 1);
        }
        if (added > 0 && length <= added)
        {
            // Consumers poll anyway; a wake-up is only needed when the lane was empty, so they may be idle.
            _subscriber.Publish(Keys.WakeChannel, RedisValue.EmptyString, CommandFlags.FireAndForget);
        }
        _metrics.Enqueued(added);
        return new EnqueueResult(id, id != task.Id);
    }

    /// <summary>
    /// Enqueues many tasks with one script call per lane and thousand tasks, all sent in one
    /// pipeline. Every request is validated first: one invalid request queues nothing.
    /// </summary>
    public async Task<IReadOnlyList<EnqueueResult>> EnqueueManyAsync(IReadOnlyList<NotificationRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        foreach (var request in requests)
        {
            NotificationRequestRules.Validate(request);
        }

        var tasks = new NotificationTask[requests.Count];
        var bodies = new byte[requests.Count][];
        var timestamp = _time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        for (var i = 0; i < requests.Count; i++)
        {
            (tasks[i], bodies[i]) = CreateTask(requests[i], timestamp, Activity.Current);
        }

        var calls = new List<(int[] Indexes, Task<RedisResult> Call)>();
        for (var lane = 0; lane < QueueKeys.LaneCount; lane++)
        {
            var inLane = Enumerable.Range(0, tasks.Length).Where(i => (int)tasks[i].Priority == lane).ToArray();
            foreach (var chunk in inLane.Chunk(EnqueueChunkSize))
            {
                calls.Add((chunk, EnqueueChunk(lane, chunk, tasks, bodies)));
            }
        }

        var results = new EnqueueResult[tasks.Length];
        var wake = false;
        var added = 0;
        foreach (var (indexes, call) in calls)
        {
            var reply = (RedisResult[])(await call.WaitAsync(cancellationToken).ConfigureAwait(false))!;
            for (var j = 0; j < indexes.Length; j++)
            {
                var id = (string)reply[j]!;
                results[indexes[j]] = new EnqueueResult(id, id != tasks[indexes[j]].Id);
            }
            var length = (long)reply[indexes.Length];
            var addedHere = (int)reply[indexes.Length + 1];
            added += addedHere;
            // Consumers poll anyway; a wake-up is only needed when the lane was empty, so they may be idle.
            wake |= addedHere > 0 && length <= addedHere;
        }
        if (wake)
        {
            _subscriber.Publish(Keys.WakeChannel, RedisValue.EmptyString, CommandFlags.FireAndForget);
        }
        _metrics.Enqueued(added);
        return results;
    }

    private (NotificationTask Task, byte[] Body) CreateTask(NotificationRequest request, double timestamp, Activity? queuedBy)
    {
        var task = new NotificationTask
        {
            Id = TaskIds.New(),
            Type = request.Type,
            Data = request.Data,
            Timestamp = timestamp,
            MaxRetries = request.MaxRetries ?? _options.DefaultMaxRetries,
            Priority = request.Priority,
            IdempotencyKey = request.IdempotencyKey,
            Correlation = request.Correlation,
            TraceParent = queuedBy?.Id,
            TraceState = queuedBy?.TraceStateString,
        };
        var body = TaskJson.Serialize(task);
        if (body.Length > NotificationRequestRules.MaxBodyBytes)
        {
            throw new InvalidNotificationException($"A notification may be at most {NotificationRequestRules.MaxBodyBytes / 1024} KiB; this one is {body.Length / 1024} KiB.");
        }
        return (task, body);
    }

    private Task<RedisResult> EnqueueChunk(int lane, int[] indexes, NotificationTask[] tasks, byte[][] bodies)
    {
        var keys = new List<RedisKey>(3) { Keys.Tasks, Keys.Pending[lane], Keys.Stats };
        var args = new RedisValue[1 + indexes.Length * 3];
        args[0] = _idempotencyWindowMs;
        for (var j = 0; j < indexes.Length; j++)
        {
            var task = tasks[indexes[j]];
            var keyIndex = 0;
            if (task.IdempotencyKey is { } idempotencyKey)
            {
                keys.Add(Keys.Idempotency(idempotencyKey));
                keyIndex = keys.Count;
            }
            args[1 + j * 3] = task.Id;
            args[2 + j * 3] = bodies[indexes[j]];
            args[3 + j * 3] = keyIndex;
        }
        return _db.ScriptEvaluateAsync(QueueScripts.Enqueue, [.. keys], args);
    }
}
