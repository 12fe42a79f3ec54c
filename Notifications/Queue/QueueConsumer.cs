using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Notifications.Tasks;
using StackExchange.Redis;

namespace Notifications.Queue;

public enum ConsumerState
{
    Starting,
    Running,
    Stopping,
    Stopped,
    Faulted,
}

/// <summary>
/// Claims tasks under a lease, runs the handler on them with bounded concurrency, and records each
/// outcome before the task leaves its lease: acknowledge last, so a crash at any point leaves the
/// task leased, and the lease expires into the queue again (at-least-once).
/// </summary>
/// <remarks>
/// Five loops share the work: fetching (claims as many tasks as there are free slots, in one script
/// call), handling (one loop per unit of concurrency), acknowledging (completes finished tasks in
/// batches), heartbeating (extends the leases of every task in hand) and maintenance (recovers the
/// leases of dead consumers and promotes due retries). StackExchange.Redis has no blocking pops, so
/// an idle fetcher sleeps until a pub/sub wake-up or the poll interval.
/// </remarks>
public sealed partial class QueueConsumer
{
    private const int ClaimBatchMax = 200;
    private const int AcknowledgeBatchMax = 1000;
    private const int MaintenanceBatch = 1000;
    private static readonly TimeSpan s_throughputKeyLifetime = TimeSpan.FromHours(2);

    private readonly IDatabase _db;
    private readonly ISubscriber _subscriber;
    private readonly QueueOptions _options;
    private readonly QueueKeys _keys;
    private readonly INotificationHandler _handler;
    private readonly TimeProvider _time;
    private readonly QueueMetrics _metrics;
    private readonly ILogger _logger;
    private readonly RetrySchedule _retrySchedule;
    private readonly WakeSignal _wake = new();
    private readonly ConcurrentDictionary<string, int> _inHand = new();
    private readonly SemaphoreSlim _slots;
    private readonly RedisKey[] _claimKeys;
    private readonly RedisKey[] _extendKeys;
    private readonly RedisKey[] _releaseKeys;
    private readonly RedisKey[] _maintainKeys;

    public QueueConsumer(IConnectionMultiplexer redis, QueueOptions options, INotificationHandler handler,
        TimeProvider time, QueueMetrics metrics, ILogger<QueueConsumer> logger)
    {
        _db = redis.GetDatabase();
        _subscriber = redis.GetSubscriber();
        _options = options;
        _keys = new QueueKeys(options.Name);
        _handler = handler;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _retrySchedule = new RetrySchedule(options);
        _slots = new SemaphoreSlim(options.Concurrency + options.Prefetch);
        Token = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
        _claimKeys = [_keys.Tasks, _keys.LeaseOwners, _keys.SentMarkers, .. _keys.Pending, .. _keys.Leased];
        _extendKeys = [_keys.LeaseOwners, .. _keys.Leased];
        _releaseKeys = [_keys.LeaseOwners, .. _keys.Leased, .. _keys.Pending];
        _maintainKeys = [_keys.LeaseOwners, _keys.Stats, .. _keys.Pending, .. _keys.Scheduled, .. _keys.Leased];
    }

    /// <summary>Identifies this consumer's leases; unique per process and run.</summary>
    public string Token { get; }

    public ConsumerState State { get; private set; } = ConsumerState.Starting;

    /// <summary>Why the consumer faulted, when <see cref="State"/> is <see cref="ConsumerState.Faulted"/>.</summary>
    public Exception? Fault { get; private set; }

    /// <summary>Tasks claimed and not yet acknowledged or released.</summary>
    public int InHand => _inHand.Count;

    /// <summary>Runs until <paramref name="stoppingToken"/> is cancelled, then shuts down gracefully.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var faulted = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var abortHandlers = new CancellationTokenSource();
        using var stopHeartbeat = new CancellationTokenSource();
        var stopping = faulted.Token;
        var ready = Channel.CreateUnbounded<InHandTask>(new UnboundedChannelOptions { SingleWriter = true });
        var outcomes = Channel.CreateUnbounded<Outcome>(new UnboundedChannelOptions { SingleReader = true });

        if (!await SubscribeToWakeUpsAsync(stopping).ConfigureAwait(false))
        {
            State = ConsumerState.Stopped;
            return;
        }
        State = ConsumerState.Running;
        LogStarted(_options.Name, Token, _options.Concurrency);

        var heartbeat = Guard(HeartbeatLoopAsync(stopHeartbeat.Token), faulted);
        var maintenance = Guard(MaintenanceLoopAsync(stopping), faulted);
        var acknowledging = Guard(AcknowledgeLoopAsync(outcomes.Reader), faulted);
        var handling = Task.WhenAll(Enumerable.Range(0, _options.Concurrency)
            .Select(_ => Guard(HandleLoopAsync(ready.Reader, outcomes.Writer, stopping, abortHandlers.Token), faulted)));
        var fetching = Guard(FetchLoopAsync(ready.Writer, outcomes.Writer, stopping), faulted);

        await fetching.ConfigureAwait(false);
        State = Fault is null ? ConsumerState.Stopping : ConsumerState.Faulted;
        ready.Writer.TryComplete();

        // Graceful shutdown: tasks not yet started go back at once (HandleLoop releases them);
        // running handlers get the shutdown timeout, then their token is cancelled and they are released too.
        if (await Task.WhenAny(handling, Task.Delay(_options.ShutdownTimeout, CancellationToken.None)).ConfigureAwait(false) != handling)
        {
            LogAbortingHandlers(_inHand.Count);
            await abortHandlers.CancelAsync().ConfigureAwait(false);
        }
        await handling.ConfigureAwait(false);
        outcomes.Writer.TryComplete();
        await acknowledging.ConfigureAwait(false);
        await stopHeartbeat.CancelAsync().ConfigureAwait(false);
        await heartbeat.ConfigureAwait(false);
        await maintenance.ConfigureAwait(false);
        try
        {
            await _subscriber.UnsubscribeAsync(_keys.WakeChannel).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRedisUnavailable(ex, "unsubscribe"); // the subscription ends with the connection anyway
        }

        State = Fault is null ? ConsumerState.Stopped : ConsumerState.Faulted;
        LogStopped(_options.Name, _inHand.Count);
        if (Fault is not null)
        {
            throw new InvalidOperationException("The queue consumer faulted.", Fault);
        }
    }

    /// <summary>
    /// Waits for Redis at start instead of failing: a worker started before Redis (or during its
    /// restart) begins consuming when it answers. False when stopped first.
    /// </summary>
    private async Task<bool> SubscribeToWakeUpsAsync(CancellationToken stopping)
    {
        for (var failures = 1; !stopping.IsCancellationRequested; failures++)
        {
            try
            {
                await _subscriber.SubscribeAsync(_keys.WakeChannel, (_, _) => _wake.Set()).ConfigureAwait(false);
                return true;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogRedisUnavailable(ex, "subscribe");
                await DelayQuietly(Backoff(failures), stopping).ConfigureAwait(false);
            }
        }
        return false;
    }

    private async Task FetchLoopAsync(ChannelWriter<InHandTask> ready, ChannelWriter<Outcome> outcomes, CancellationToken stopping)
    {
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _slots.WaitAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            var wanted = 1;
            while (wanted < ClaimBatchMax && _slots.Wait(0))
            {
                wanted++;
            }

            int claimed;
            try
            {
                claimed = await ClaimAsync(wanted, ready, outcomes).ConfigureAwait(false);
                failures = 0;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                _slots.Release(wanted);
                LogRedisUnavailable(ex, "claim");
                await DelayQuietly(Backoff(++failures), stopping).ConfigureAwait(false);
                continue;
            }
            if (claimed < wanted)
            {
                _slots.Release(wanted - claimed);
            }
            if (claimed == 0)
            {
                try
                {
                    await _wake.WaitAsync(_options.PollInterval, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private async Task<int> ClaimAsync(int wanted, ChannelWriter<InHandTask> ready, ChannelWriter<Outcome> outcomes)
    {
        var deadline = _time.GetUtcNow().Add(_options.LeaseDuration).ToUnixTimeMilliseconds();
        var reply = (RedisResult[])(await _db.ScriptEvaluateAsync(QueueScripts.Claim, _claimKeys, [deadline, wanted, Token]).ConfigureAwait(false))!;
        var count = reply.Length / 4;
        for (var i = 0; i < reply.Length; i += 4)
        {
            var id = (string)reply[i]!;
            var lane = (int)reply[i + 1];
            var body = (byte[]?)reply[i + 2];
            var alreadySent = !reply[i + 3].IsNull;
            _inHand[id] = lane;
            if (body is null)
            {
                // A lease on a task whose body is gone (deleted as a dead letter while leased): drop the lease.
                outcomes.TryWrite(new Outcome(id, lane, null, HandlerResult.Done, null));
                continue;
            }
            NotificationTask task;
            try
            {
                task = TaskJson.Deserialize(body);
            }
            catch (JsonException ex)
            {
                outcomes.TryWrite(new Outcome(id, lane, null, HandlerResult.Permanent($"Unreadable task payload: {ex.Message}"), body));
                continue;
            }
            ready.TryWrite(new InHandTask(new ClaimedTask(task, lane, alreadySent, ct => MarkSentAsync(id, ct))));
        }
        return count;
    }

    private Task MarkSentAsync(string id, CancellationToken cancellationToken) =>
        _db.HashSetAsync(_keys.SentMarkers, id, _time.GetUtcNow().ToUnixTimeMilliseconds()).WaitAsync(cancellationToken);

    private async Task HandleLoopAsync(ChannelReader<InHandTask> ready, ChannelWriter<Outcome> outcomes, CancellationToken stopping, CancellationToken abort)
    {
        await foreach (var item in ready.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            var claimed = item.Claimed;
            var id = claimed.Task.Id;
            if (stopping.IsCancellationRequested)
            {
                outcomes.TryWrite(new Outcome(id, claimed.Lane, claimed, null, null));
                continue;
            }

            HandlerResult? result;
            using (var activity = StartProcessActivity(claimed))
            {
                try
                {
                    result = await _handler.HandleAsync(claimed, abort).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (abort.IsCancellationRequested)
                {
                    result = null; // shutdown: give it back without counting an attempt
                }
                catch (Exception ex)
                {
                    result = HandlerResult.Retry($"{ex.GetType().Name}: {ex.Message}");
                }
                if (result is not HandlerResult.Succeeded and not null)
                {
                    activity?.SetStatus(ActivityStatusCode.Error);
                }
            }
            outcomes.TryWrite(new Outcome(id, claimed.Lane, claimed, result, null));
        }
    }

    private static Activity? StartProcessActivity(ClaimedTask claimed)
    {
        var task = claimed.Task;
        ActivityLink[]? links = null;
        if (task.TraceParent is { } traceParent && ActivityContext.TryParse(traceParent, task.TraceState, out var queuedBy))
        {
            links = [new ActivityLink(queuedBy)];
        }
        var activity = QueueMetrics.ActivitySource.StartActivity("notification process", ActivityKind.Consumer, parentContext: default, links: links);
        activity?.SetTag("messaging.system", "redis");
        activity?.SetTag("messaging.message.id", task.Id);
        activity?.SetTag("notification.type", task.Type.ToString().ToLowerInvariant());
        activity?.SetTag("notification.attempt", claimed.Attempt);
        return activity;
    }

    private async Task AcknowledgeLoopAsync(ChannelReader<Outcome> outcomes)
    {
        var completed = new List<Outcome>();
        var released = new List<Outcome>();
        while (await outcomes.WaitToReadAsync().ConfigureAwait(false))
        {
            while (completed.Count < AcknowledgeBatchMax && outcomes.TryRead(out var outcome))
            {
                switch (outcome.Result)
                {
                    case HandlerResult.Succeeded:
                        completed.Add(outcome);
                        break;
                    case null:
                        released.Add(outcome);
                        break;
                    default:
                        await RecordFailureAsync(outcome).ConfigureAwait(false);
                        break;
                }
            }
            if (completed.Count > 0)
            {
                await AcknowledgeAsync(completed).ConfigureAwait(false);
                completed.Clear();
            }
            if (released.Count > 0)
            {
                await ReleaseAsync(released).ConfigureAwait(false);
                released.Clear();
            }
        }
    }

    private async Task AcknowledgeAsync(List<Outcome> completed)
    {
        var now = _time.GetUtcNow();
        var args = new RedisValue[2 + completed.Count];
        args[0] = Token;
        args[1] = (long)s_throughputKeyLifetime.TotalSeconds;
        for (var i = 0; i < completed.Count; i++)
        {
            args[2 + i] = completed[i].Id;
        }
        RedisKey[] keys = [_keys.Tasks, _keys.LeaseOwners, _keys.SentMarkers, _keys.Stats, .. _keys.Leased, _keys.Throughput(now.ToUnixTimeSeconds() / 60)];
        var acknowledged = await WithRetryAsync("acknowledge", () => _db.ScriptEvaluateAsync(QueueScripts.Acknowledge, keys, args)).ConfigureAwait(false);
        _metrics.Processed(acknowledged is null ? 0 : (int)acknowledged);
        foreach (var outcome in completed)
        {
            if (outcome.Claimed is { } claimed)
            {
                _metrics.Completed(claimed.Task.QueuedAt, now);
            }
            _inHand.TryRemove(outcome.Id, out _);
        }
        _slots.Release(completed.Count);
    }

    private async Task RecordFailureAsync(Outcome outcome)
    {
        var now = _time.GetUtcNow();
        var (error, retryAfter, permanent, postponed) = outcome.Result switch
        {
            HandlerResult.TransientFailure t => (t.Error, t.RetryAfter, false, false),
            HandlerResult.PermanentFailure p => (p.Error, (TimeSpan?)null, true, false),
            HandlerResult.Postponed p => (p.Reason, p.Delay, false, true),
            _ => throw new UnreachableException(),
        };
        RedisValue body;
        bool dead;
        long score;
        if (outcome.Claimed is { } claimed)
        {
            var failures = postponed ? claimed.Task.RetryCount : claimed.Task.RetryCount + 1;
            dead = permanent || (!postponed && RetrySchedule.IsExhausted(failures, claimed.Task.MaxRetries));
            body = TaskJson.Serialize(claimed.Task with { RetryCount = failures, LastError = error, FailedAtMs = now.ToUnixTimeMilliseconds() });
            var delay = postponed ? retryAfter!.Value : _retrySchedule.DelayAfter(failures, retryAfter);
            score = dead ? now.ToUnixTimeMilliseconds() : now.Add(delay).ToUnixTimeMilliseconds();
        }
        else
        {
            dead = true;
            body = outcome.UnreadableBody;
            score = now.ToUnixTimeMilliseconds();
        }

        RedisKey[] keys = [_keys.Tasks, _keys.LeaseOwners, _keys.SentMarkers, _keys.Stats, _keys.Dead, .. _keys.Leased, _keys.Scheduled[outcome.Lane], _keys.DeadErrors];
        RedisValue[] args = [Token, outcome.Id, body, dead ? "dead" : postponed ? "postpone" : "retry", score,
            now.Subtract(_options.DeadLetterMaxAge).ToUnixTimeMilliseconds(), _options.DeadLetterMaxCount, error];
        var recorded = await WithRetryAsync("record failure", () => _db.ScriptEvaluateAsync(QueueScripts.Fail, keys, args)).ConfigureAwait(false);
        if (recorded is not null && (int)recorded == 1 && !postponed)
        {
            _metrics.Failed();
            if (dead)
            {
                _metrics.DeadLettered();
                LogDeadLettered(outcome.Id, error);
            }
        }
        Finish(outcome.Id);
    }

    private async Task ReleaseAsync(List<Outcome> released)
    {
        var args = new RedisValue[1 + released.Count * 2];
        args[0] = Token;
        for (var i = 0; i < released.Count; i++)
        {
            args[1 + i * 2] = released[i].Id;
            args[2 + i * 2] = released[i].Lane;
        }
        await WithRetryAsync("release", () => _db.ScriptEvaluateAsync(QueueScripts.Release, _releaseKeys, args)).ConfigureAwait(false);
        foreach (var outcome in released)
        {
            Finish(outcome.Id);
        }
        _subscriber.Publish(_keys.WakeChannel, RedisValue.EmptyString, CommandFlags.FireAndForget);
    }

    private void Finish(string id)
    {
        _inHand.TryRemove(id, out _);
        _slots.Release();
    }

    private async Task HeartbeatLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.HeartbeatInterval, _time);
        while (await WaitForTickAsync(timer, stop).ConfigureAwait(false))
        {
            var ids = _inHand.Keys.ToArray();
            if (ids.Length == 0)
            {
                continue;
            }
            var deadline = _time.GetUtcNow().Add(_options.LeaseDuration).ToUnixTimeMilliseconds();
            foreach (var chunk in ids.Chunk(AcknowledgeBatchMax))
            {
                RedisValue[] args = [Token, deadline, .. chunk.Select(id => (RedisValue)id)];
                try
                {
                    var lost = (RedisResult[])(await _db.ScriptEvaluateAsync(QueueScripts.Extend, _extendKeys, args).ConfigureAwait(false))!;
                    if (lost.Length > 0)
                    {
                        LogLeasesLost(lost.Length);
                    }
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    LogRedisUnavailable(ex, "heartbeat");
                }
            }
        }
    }

    private async Task MaintenanceLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_options.PollInterval, _time);
        do
        {
            try
            {
                var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
                var moved = (RedisResult[])(await _db.ScriptEvaluateAsync(QueueScripts.Maintain, _maintainKeys, [now, MaintenanceBatch]).ConfigureAwait(false))!;
                var (promoted, recovered) = ((long)moved[0], (long)moved[1]);
                if (recovered > 0)
                {
                    LogRecovered(recovered);
                }
                if (promoted + recovered > 0)
                {
                    _wake.Set();
                    _subscriber.Publish(_keys.WakeChannel, RedisValue.EmptyString, CommandFlags.FireAndForget);
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogRedisUnavailable(ex, "maintenance");
            }
        }
        while (await WaitForTickAsync(timer, stopping).ConfigureAwait(false));
    }

    /// <summary>
    /// Retries a state change while Redis is away: the task stays leased meanwhile. Gives up only
    /// after about a minute; the lease then expires and the task is delivered again (at-least-once).
    /// </summary>
    private async Task<RedisResult?> WithRetryAsync(string operation, Func<Task<RedisResult>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogRedisUnavailable(ex, operation);
                if (attempt >= 30)
                {
                    return null;
                }
                await Task.Delay(Backoff(attempt), _time).ConfigureAwait(false);
            }
        }
    }

    private static TimeSpan Backoff(int failures) => TimeSpan.FromMilliseconds(Math.Min(2000, 50 * Math.Pow(2, Math.Min(failures, 10))));

    private async Task DelayQuietly(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task<bool> WaitForTickAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Turns an unexpected exception in any loop into the consumer's fault and a shutdown.</summary>
    private async Task Guard(Task loop, CancellationTokenSource faulted)
    {
        try
        {
            await loop.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Fault ??= ex;
            State = ConsumerState.Faulted;
            LogFaulted(ex);
            await faulted.CancelAsync().ConfigureAwait(false);
        }
    }

    private readonly record struct InHandTask(ClaimedTask Claimed);

    /// <summary>A finished task: <see cref="Result"/> null means "give it back" (shutdown).</summary>
    private readonly record struct Outcome(string Id, int Lane, ClaimedTask? Claimed, HandlerResult? Result, byte[]? UnreadableBody);

    [LoggerMessage(LogLevel.Information, "Consuming queue {Queue} as {Token} with concurrency {Concurrency}")]
    private partial void LogStarted(string queue, string token, int concurrency);

    [LoggerMessage(LogLevel.Information, "Stopped consuming queue {Queue}; {InHand} tasks still in hand")]
    private partial void LogStopped(string queue, int inHand);

    [LoggerMessage(LogLevel.Warning, "Shutdown timeout passed with {InHand} tasks in hand: cancelling their handlers and giving them back")]
    private partial void LogAbortingHandlers(int inHand);

    [LoggerMessage(LogLevel.Warning, "Redis did not answer during {Operation}; retrying")]
    private partial void LogRedisUnavailable(Exception exception, string operation);

    [LoggerMessage(LogLevel.Warning, "Task {TaskId} was dead-lettered: {Error}")]
    private partial void LogDeadLettered(string taskId, string error);

    [LoggerMessage(LogLevel.Warning, "Lost the lease of {Count} tasks (this process paused longer than the lease)")]
    private partial void LogLeasesLost(int count);

    [LoggerMessage(LogLevel.Information, "Recovered {Count} tasks whose consumer stopped renewing their lease")]
    private partial void LogRecovered(long count);

    [LoggerMessage(LogLevel.Error, "The queue consumer faulted")]
    private partial void LogFaulted(Exception exception);
}
