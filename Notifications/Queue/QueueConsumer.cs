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
    // A set of leases, not a map by task id: a task this process lost and claimed again is in hand
    // twice for a while, and the old claim's heartbeat must find it lost.
    private readonly ConcurrentDictionary<Lease, byte> _inHand = new();
    private readonly SemaphoreSlim _slots;
    private readonly RedisKey[] _claimKeys;
    private readonly RedisKey[] _extendKeys;
    private readonly RedisKey[] _releaseKeys;
    private readonly RedisKey[] _maintainKeys;
    private readonly RedisKey[] _markSentKeys;
    private long _claims;

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
        _maintainKeys = [_keys.LeaseOwners, _keys.Stats, .. _keys.Pending, .. _keys.Scheduled, .. _keys.Leased,
            _keys.Recoveries, _keys.Tasks, _keys.Dead, _keys.DeadErrors, _keys.SentMarkers];
        _markSentKeys = [_keys.Tasks, _keys.LeaseOwners, _keys.SentMarkers];
    }

    /// <summary>
    /// Identifies this consumer; unique per process and run. Each claim leases its tasks under a token of
    /// its own (this one and a sequence number), so a task this process loses and claims again is fenced
    /// from the handler that still holds the old claim.
    /// </summary>
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
        var claimToken = $"{Token}:{Interlocked.Increment(ref _claims)}";
        var reply = (RedisResult[])(await _db.ScriptEvaluateAsync(QueueScripts.Claim, _claimKeys,
            [(long)_options.LeaseDuration.TotalMilliseconds, wanted, claimToken]).ConfigureAwait(false))!;
        var count = reply.Length / 4;
        for (var i = 0; i < reply.Length; i += 4)
        {
            var id = (string)reply[i]!;
            var lane = (int)reply[i + 1];
            var body = (byte[]?)reply[i + 2];
            var alreadySent = !reply[i + 3].IsNull;
            var lease = new Lease(id, lane, claimToken, new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time));
            lease.ExpireLocallyAfter(LocalLeaseDuration);
            _inHand[lease] = 0;
            if (body is null)
            {
                // A lease on a task whose body is gone (deleted as a dead letter while leased): drop the lease.
                outcomes.TryWrite(new Outcome(id, lease, null, HandlerResult.Done, null));
                continue;
            }
            NotificationTask task;
            try
            {
                task = TaskJson.Deserialize(body);
            }
            catch (JsonException ex)
            {
                outcomes.TryWrite(new Outcome(id, lease, null, HandlerResult.Permanent($"Unreadable task payload: {ex.Message}"), body));
                continue;
            }
            ready.TryWrite(new InHandTask(new ClaimedTask(task, lane, alreadySent, ct => MarkSentAsync(id, lease, ct)), lease));
        }
        return count;
    }

    /// <summary>
    /// The lease as this process can vouch for it: the server's lease runs from before the claim's answer
    /// arrived, so the local clock gives it up a fifth early. A handler is cancelled when it runs out
    /// (heartbeats stopped reaching Redis) or when a heartbeat finds the lease taken.
    /// </summary>
    private TimeSpan LocalLeaseDuration => _options.LeaseDuration * 0.8;

    /// <summary>Records the send; retried while Redis is away, like acknowledge, since a lost marker could mean a second text.</summary>
    private async Task MarkSentAsync(string id, Lease lease, CancellationToken cancellationToken)
    {
        var held = await WithRetryAsync("mark sent", () => _db.ScriptEvaluateAsync(QueueScripts.MarkSent, _markSentKeys, [id, lease.Token]))
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        if (held is not null && (int)held == 0)
        {
            LogSentAfterLeaseLost(id);
        }
    }

    private async Task HandleLoopAsync(ChannelReader<InHandTask> ready, ChannelWriter<Outcome> outcomes, CancellationToken stopping, CancellationToken abort)
    {
        await foreach (var item in ready.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            var claimed = item.Claimed;
            var lease = item.Lease;
            var id = claimed.Task.Id;
            if (stopping.IsCancellationRequested)
            {
                outcomes.TryWrite(new Outcome(id, lease, claimed, null, null));
                continue;
            }
            if (lease.Lost.IsCancellationRequested)
            {
                // Waited in hand past its lease (a stalled process): another consumer may have it now.
                Forget(id, lease);
                continue;
            }

            HandlerResult? result;
            using (var activity = StartProcessActivity(claimed))
            using (var handlerToken = CancellationTokenSource.CreateLinkedTokenSource(abort, lease.Lost))
            {
                try
                {
                    result = await _handler.HandleAsync(claimed, handlerToken.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (abort.IsCancellationRequested)
                {
                    result = null; // shutdown: give it back without counting an attempt
                }
                catch (OperationCanceledException) when (lease.Lost.IsCancellationRequested)
                {
                    // The lease is gone: stop before sending, record nothing; its new holder finishes it.
                    LogHandlerCancelledOnLeaseLoss(id);
                    activity?.SetStatus(ActivityStatusCode.Error, "lease lost");
                    Forget(id, lease);
                    continue;
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
            outcomes.TryWrite(new Outcome(id, lease, claimed, result, null));
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
        var args = new RedisValue[1 + completed.Count * 2];
        args[0] = (long)s_throughputKeyLifetime.TotalSeconds;
        for (var i = 0; i < completed.Count; i++)
        {
            args[1 + i * 2] = completed[i].Id;
            args[2 + i * 2] = completed[i].Lease.Token;
        }
        RedisKey[] keys = [_keys.Tasks, _keys.LeaseOwners, _keys.SentMarkers, _keys.Stats, .. _keys.Leased, _keys.Throughput(now.ToUnixTimeSeconds() / 60), _keys.Recoveries];
        var acknowledged = await WithRetryAsync("acknowledge", () => _db.ScriptEvaluateAsync(QueueScripts.Acknowledge, keys, args)).ConfigureAwait(false);
        _metrics.Processed(acknowledged is null ? 0 : (int)acknowledged);
        foreach (var outcome in completed)
        {
            if (outcome.Claimed is { } claimed)
            {
                _metrics.Completed(claimed.Task.QueuedAt, now);
            }
            Forget(outcome.Id, outcome.Lease, releaseSlot: false);
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
        var delay = TimeSpan.Zero;
        if (outcome.Claimed is { } claimed)
        {
            var failures = postponed ? claimed.Task.RetryCount : claimed.Task.RetryCount + 1;
            dead = permanent || (!postponed && RetrySchedule.IsExhausted(failures, claimed.Task.MaxRetries));
            body = TaskJson.Serialize(claimed.Task with { RetryCount = failures, LastError = error, FailedAtMs = now.ToUnixTimeMilliseconds() });
            delay = dead ? TimeSpan.Zero : postponed ? retryAfter!.Value : _retrySchedule.DelayAfter(failures, retryAfter);
        }
        else
        {
            dead = true;
            body = outcome.UnreadableBody;
        }

        // The script adds the delay to the server's clock: every worker schedules on the same time.
        RedisKey[] keys = [_keys.Tasks, _keys.LeaseOwners, _keys.SentMarkers, _keys.Stats, _keys.Dead, .. _keys.Leased, _keys.Scheduled[outcome.Lease.Lane], _keys.DeadErrors, _keys.Recoveries];
        RedisValue[] args = [outcome.Lease.Token, outcome.Id, body, dead ? "dead" : postponed ? "postpone" : "retry", (long)delay.TotalMilliseconds,
            (long)_options.DeadLetterMaxAge.TotalMilliseconds, _options.DeadLetterMaxCount, error];
        var recorded = (RedisResult[]?)await WithRetryAsync("record failure", () => _db.ScriptEvaluateAsync(QueueScripts.Fail, keys, args)).ConfigureAwait(false);
        if (recorded is { Length: > 0 } && (int)recorded[0] == 1 && !postponed)
        {
            _metrics.Failed();
            if (dead)
            {
                _metrics.DeadLettered();
                LogDeadLettered(outcome.Id, error);
                await ReportEvictedAsync(recorded[1..]).ConfigureAwait(false);
            }
        }
        Forget(outcome.Id, outcome.Lease);
    }

    private async Task ReleaseAsync(List<Outcome> released)
    {
        var args = new RedisValue[released.Count * 3];
        for (var i = 0; i < released.Count; i++)
        {
            args[i * 3] = released[i].Id;
            args[i * 3 + 1] = released[i].Lease.Lane;
            args[i * 3 + 2] = released[i].Lease.Token;
        }
        await WithRetryAsync("release", () => _db.ScriptEvaluateAsync(QueueScripts.Release, _releaseKeys, args)).ConfigureAwait(false);
        foreach (var outcome in released)
        {
            Forget(outcome.Id, outcome.Lease);
        }
        _subscriber.Publish(_keys.WakeChannel, RedisValue.EmptyString, CommandFlags.FireAndForget);
    }

    /// <summary>Lets go of a task this process held: its lease ends here (Redis was told, or the lease is someone else's).</summary>
    private void Forget(string id, Lease lease, bool releaseSlot = true)
    {
        // Only this claim's entry: a newer claim of the same task by this process keeps its own.
        _inHand.TryRemove(lease, out _);
        lease.Dispose();
        if (releaseSlot)
        {
            _slots.Release();
        }
    }

    /// <param name="evicted">(id, body) pairs of the dead letters the caps removed.</param>
    private async Task ReportEvictedAsync(RedisResult[] evicted)
    {
        var evictions = DeadLetterEvictions.Read(evicted);
        evictions.Report(_metrics, _logger, _options);
        await TellHandlerAsync(evictions.Tasks, DeadLetterEvictions.Reason(_options)).ConfigureAwait(false);
    }

    /// <summary>Hands the handler each task the queue ended by itself.</summary>
    private async Task TellHandlerAsync(IEnumerable<NotificationTask> tasks, string reason)
    {
        foreach (var task in tasks)
        {
            try
            {
                await _handler.QueueEndedAsync(task, reason, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogQueueEndedNotRecorded(ex, task.Id);
            }
        }
    }

    private async Task HeartbeatLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.HeartbeatInterval, _time);
        while (await WaitForTickAsync(timer, stop).ConfigureAwait(false))
        {
            var held = _inHand.Keys.ToArray();
            if (held.Length == 0)
            {
                continue;
            }
            foreach (var chunk in held.Chunk(AcknowledgeBatchMax))
            {
                var args = new RedisValue[1 + chunk.Length * 2];
                args[0] = (long)_options.LeaseDuration.TotalMilliseconds;
                for (var i = 0; i < chunk.Length; i++)
                {
                    args[1 + i * 2] = chunk[i].Id;
                    args[2 + i * 2] = chunk[i].Token;
                }
                try
                {
                    var sentAt = _time.GetTimestamp();
                    var lost = ((RedisResult[])(await _db.ScriptEvaluateAsync(QueueScripts.Extend, _extendKeys, args).ConfigureAwait(false))!)
                        .Select(r => (int)r - 1).ToHashSet();
                    // The new deadline counts from when the extension was sent, not from when its answer came.
                    var remaining = LocalLeaseDuration - _time.GetElapsedTime(sentAt);
                    for (var i = 0; i < chunk.Length; i++)
                    {
                        if (lost.Contains(i))
                        {
                            chunk[i].Lose();
                        }
                        else
                        {
                            chunk[i].ExpireLocallyAfter(remaining);
                        }
                    }
                    if (lost.Count > 0)
                    {
                        LogLeasesLost(lost.Count);
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
                var moved = (RedisResult[])(await _db.ScriptEvaluateAsync(QueueScripts.Maintain, _maintainKeys,
                    [MaintenanceBatch, _options.MaxRecoveries, (long)_options.DeadLetterMaxAge.TotalMilliseconds, _options.DeadLetterMaxCount]).ConfigureAwait(false))!;
                var (promoted, recovered, poisoned) = ((long)moved[0], (long)moved[1], (int)moved[2]);
                if (recovered > 0)
                {
                    LogRecovered(recovered);
                }
                if (poisoned > 0)
                {
                    _metrics.DeadLettered(poisoned);
                    for (var i = 0; i < poisoned; i++)
                    {
                        LogPoisoned((string)moved[3 + i * 2]!, _options.MaxRecoveries);
                    }
                    await TellHandlerAsync(DeadLetterEvictions.ReadTasks(moved.AsSpan(3, poisoned * 2)),
                        $"Recovered more than {_options.MaxRecoveries} times: its worker died or stalled while handling it each time.").ConfigureAwait(false);
                    await ReportEvictedAsync(moved[(3 + poisoned * 2)..]).ConfigureAwait(false);
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

    private readonly record struct InHandTask(ClaimedTask Claimed, Lease Lease);

    /// <summary>A finished task: <see cref="Result"/> null means "give it back" (shutdown).</summary>
    private readonly record struct Outcome(string Id, Lease Lease, ClaimedTask? Claimed, HandlerResult? Result, byte[]? UnreadableBody);

    /// <summary>One claim of one task: its lane, the claim's token, and what cancels its handler when the lease is gone.</summary>
    private sealed class Lease(string id, int lane, string token, CancellationTokenSource lost) : IDisposable
    {
        private bool _disposed;

        public string Id { get; } = id;
        public int Lane { get; } = lane;
        public string Token { get; } = token;
        public CancellationToken Lost { get; } = lost.Token;

        public void ExpireLocallyAfter(TimeSpan remaining)
        {
            lock (this)
            {
                if (!_disposed)
                {
                    lost.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
                }
            }
        }

        public void Lose()
        {
            lock (this)
            {
                if (!_disposed)
                {
                    lost.Cancel();
                }
            }
        }

        public void Dispose()
        {
            lock (this)
            {
                _disposed = true;
                lost.Dispose();
            }
        }
    }

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

    [LoggerMessage(LogLevel.Warning, "Task {TaskId} was sent after this consumer lost its lease; its sent marker stands, so it is not sent again")]
    private partial void LogSentAfterLeaseLost(string taskId);

    [LoggerMessage(LogLevel.Warning, "Cancelled the handler of task {TaskId}: its lease was lost before it finished")]
    private partial void LogHandlerCancelledOnLeaseLoss(string taskId);

    [LoggerMessage(LogLevel.Error, "Task {TaskId} was dead-lettered: recovered more than {MaxRecoveries} times (its handler kills or stalls the worker)")]
    private partial void LogPoisoned(string taskId, int maxRecoveries);

    [LoggerMessage(LogLevel.Warning, "Could not record in the delivery log that the queue ended task {TaskId}")]
    private partial void LogQueueEndedNotRecorded(Exception exception, string taskId);


    [LoggerMessage(LogLevel.Information, "Recovered {Count} tasks whose consumer stopped renewing their lease")]
    private partial void LogRecovered(long count);

    [LoggerMessage(LogLevel.Error, "The queue consumer faulted")]
    private partial void LogFaulted(Exception exception);
}
