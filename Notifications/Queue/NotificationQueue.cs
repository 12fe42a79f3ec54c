using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Notifications.Tasks;
using StackExchange.Redis;

namespace Notifications.Queue;

/// <summary>
/// The producer side of the notification queue: enqueue one or many tasks. Throws when Redis does
/// not take the task (never returns "false" and carries on, as the old plan did); the Api then
/// spools it to disk.
/// </summary>
/// <remarks>
/// Single enqueues are group-committed: requests that arrive while earlier ones are on the wire
/// go to Redis together in one script call, each still all-or-nothing. A lone request is sent at
/// once, so this adds no latency; under load it turns a hundred concurrent form submissions into
/// a handful of round trips.
/// </remarks>
public sealed class NotificationQueue : IAsyncDisposable
{
    /// <summary>Tasks per script call: Lua's unpack limit is a few thousand values.</summary>
    internal const int EnqueueChunkSize = 1000;

    /// <summary>Group commits on the wire at once; more waiting requests join the next one.</summary>
    private const int CommitsInFlight = 4;

    private readonly IDatabase _db;
    private readonly ISubscriber _subscriber;
    private readonly QueueOptions _options;
    private readonly TimeProvider _time;
    private readonly QueueMetrics _metrics;
    private readonly long _idempotencyWindowMs;
    private readonly RedisKey[][] _singleEnqueueKeys;
    private readonly Channel<PendingEnqueue> _pending = Channel.CreateUnbounded<PendingEnqueue>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _groupCommit;

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
        _groupCommit = Task.Run(GroupCommitLoopAsync);
    }

    public QueueKeys Keys { get; }

    /// <summary>
    /// Enqueues one task: the path every form submission takes. When this returns, Redis has the
    /// task. Cancelling stops the wait, not necessarily the enqueue.
    /// </summary>
    public Task<EnqueueResult> EnqueueAsync(NotificationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        NotificationRequestRules.Validate(request);
        var (task, body) = CreateTask(request, _time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0, Activity.Current);
        var pending = new PendingEnqueue(QueueKeys.LaneOf(task.Priority), task, body);
        if (!_pending.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(NotificationQueue));
        }
        return pending.Completion.Task.WaitAsync(cancellationToken);
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

        var calls = new List<(int[] Indexes, Task<EnqueueResult[]> Call)>();
        for (var lane = 0; lane < QueueKeys.LaneCount; lane++)
        {
            var inLane = Enumerable.Range(0, tasks.Length).Where(i => QueueKeys.LaneOf(tasks[i].Priority) == lane).ToArray();
            foreach (var chunk in inLane.Chunk(EnqueueChunkSize))
            {
                calls.Add((chunk, SendChunkAsync(lane, [.. chunk.Select(i => tasks[i])], [.. chunk.Select(i => bodies[i])])));
            }
        }

        var results = new EnqueueResult[tasks.Length];
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

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _groupCommit.ConfigureAwait(false);
    }

    private async Task GroupCommitLoopAsync()
    {
        using var inFlight = new SemaphoreSlim(CommitsInFlight);
        var reader = _pending.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            await inFlight.WaitAsync().ConfigureAwait(false);
            var batch = new List<PendingEnqueue>();
            while (batch.Count < EnqueueChunkSize && reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }
            _ = CommitAsync(batch, inFlight);
        }
    }

    private async Task CommitAsync(List<PendingEnqueue> batch, SemaphoreSlim inFlight)
    {
        try
        {
            foreach (var lane in batch.GroupBy(p => p.Lane))
            {
                var items = lane.ToArray();
                try
                {
                    var results = await SendChunkAsync(lane.Key, [.. items.Select(p => p.Task)], [.. items.Select(p => p.Body)]).ConfigureAwait(false);
                    for (var i = 0; i < items.Length; i++)
                    {
                        items[i].Completion.TrySetResult(results[i]);
                    }
                }
                catch (Exception ex)
                {
                    foreach (var item in items)
                    {
                        item.Completion.TrySetException(ex);
                    }
                }
            }
        }
        finally
        {
            inFlight.Release();
        }
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

    private sealed class PendingEnqueue(int lane, NotificationTask task, byte[] body)
    {
        public int Lane { get; } = lane;
        public NotificationTask Task { get; } = task;
        public byte[] Body { get; } = body;
        public TaskCompletionSource<EnqueueResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
