using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Notifications.Queue;
using Notifications.Tasks;
using StackExchange.Redis;

namespace Notifications.Tests.Infrastructure;

/// <summary>One queue with its own name (so tests never share state), and consumers on it.</summary>
public sealed class QueueHarness : IAsyncDisposable
{
    private static readonly IMeterFactory s_meterFactory =
        new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    private readonly List<RunningConsumer> _consumers = [];

    public QueueHarness(IConnectionMultiplexer redis, Action<QueueOptions>? configure = null)
    {
        Redis = redis;
        Options = new QueueOptions
        {
            Name = "test-" + Guid.NewGuid().ToString("N")[..12],
            LeaseDuration = TimeSpan.FromSeconds(10),
            HeartbeatInterval = TimeSpan.FromSeconds(2),
            PollInterval = TimeSpan.FromMilliseconds(100),
            RetryBaseDelay = TimeSpan.FromMilliseconds(100),
            RetryMaxDelay = TimeSpan.FromSeconds(2),
            RetryJitter = 0,
            ShutdownTimeout = TimeSpan.FromSeconds(5),
            Concurrency = 8,
            Prefetch = 8,
        };
        configure?.Invoke(Options);
        var options = Microsoft.Extensions.Options.Options.Create(Options);
        Metrics = new QueueMetrics(s_meterFactory);
        Queue = new NotificationQueue(redis, options, TimeProvider.System, Metrics);
        Monitor = new QueueMonitor(redis, options, TimeProvider.System, Metrics);
        DeadLetters = new DeadLetters(redis, options);
        Keys = new QueueKeys(Options.Name);
    }

    public IConnectionMultiplexer Redis { get; }
    public IDatabase Db => Redis.GetDatabase();
    public QueueOptions Options { get; }
    public QueueMetrics Metrics { get; }
    public NotificationQueue Queue { get; }
    public QueueMonitor Monitor { get; }
    public DeadLetters DeadLetters { get; }
    public QueueKeys Keys { get; }

    public QueueConsumer CreateConsumer(INotificationHandler handler, TimeProvider? time = null) =>
        new(Redis, Options, handler, time ?? TimeProvider.System, Metrics, NullLogger<QueueConsumer>.Instance);

    public RunningConsumer Start(INotificationHandler handler, TimeProvider? time = null)
    {
        var running = new RunningConsumer(CreateConsumer(handler, time));
        _consumers.Add(running);
        return running;
    }

    /// <summary>Simulates a consumer that claimed tasks and then died: the tasks stay leased to a token nobody renews.</summary>
    public async Task<int> ClaimAsDeadConsumerAsync(int count, TimeSpan lease)
    {
        RedisKey[] keys = [Keys.Tasks, Keys.LeaseOwners, Keys.SentMarkers, .. Keys.Pending, .. Keys.Leased];
        var reply = (RedisResult[])(await Db.ScriptEvaluateAsync(QueueScripts.Claim, keys, [(long)lease.TotalMilliseconds, count, "dead-consumer"]))!;
        return reply.Length / 4;
    }

    /// <summary>
    /// Makes a task's lease expire now, as if its consumer had stalled past it: the deadline moves to the
    /// past and the lease passes to no one, so the holder's next heartbeat finds it lost.
    /// </summary>
    public async Task ExpireLeaseAsync(string taskId)
    {
        var expire = Db.CreateTransaction();
        _ = expire.HashSetAsync(Keys.LeaseOwners, taskId, "expired-by-test");
        foreach (var lane in Keys.Leased)
        {
            _ = expire.SortedSetAddAsync(lane, taskId, 0, SortedSetWhen.Exists);
        }
        await expire.ExecuteAsync();
    }

    public static NotificationRequest Sms(int i, NotificationPriority priority = NotificationPriority.Normal) =>
        NotificationRequest.Sms($"+1555000{i:D4}", $"Welcome message {i}", priority);

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for: {what}");
            }
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var consumer in _consumers)
        {
            await consumer.StopAsync();
        }
        Metrics.Dispose();
    }
}

/// <summary>A consumer running in the background until stopped.</summary>
public sealed class RunningConsumer
{
    private readonly CancellationTokenSource _stop = new();

    public RunningConsumer(QueueConsumer consumer)
    {
        Consumer = consumer;
        Run = Task.Run(() => consumer.RunAsync(_stop.Token));
    }

    public QueueConsumer Consumer { get; }
    public Task Run { get; }

    public async Task StopAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }
        await Run;
    }
}

/// <summary>Records every call; the outcome of each call comes from a delegate.</summary>
public sealed class RecordingHandler : INotificationHandler
{
    private readonly Func<ClaimedTask, CancellationToken, ValueTask<HandlerResult>>? _behaviour;

    public RecordingHandler(Func<ClaimedTask, ValueTask<HandlerResult>>? behaviour = null) =>
        _behaviour = behaviour is null ? null : (claimed, _) => behaviour(claimed);

    /// <summary>A behaviour that sees the handler's token (cancelled at shutdown or when the lease is lost).</summary>
    public RecordingHandler(Func<ClaimedTask, CancellationToken, ValueTask<HandlerResult>> behaviour) => _behaviour = behaviour;

    public ConcurrentQueue<HandledCall> Calls { get; } = new();

    public int Count => Calls.Count;

    /// <summary>Tasks the queue ended by itself (poisoned, or removed from the dead letters), with the reason.</summary>
    public ConcurrentQueue<(NotificationTask Task, string Reason)> EndedByQueue { get; } = new();

    public ValueTask QueueEndedAsync(NotificationTask task, string reason, CancellationToken cancellationToken)
    {
        EndedByQueue.Enqueue((task, reason));
        return ValueTask.CompletedTask;
    }

    public async ValueTask<HandlerResult> HandleAsync(ClaimedTask claimed, CancellationToken cancellationToken)
    {
        Calls.Enqueue(new HandledCall(claimed.Task, claimed.Attempt, claimed.AlreadySent, DateTimeOffset.UtcNow));
        return _behaviour is null ? HandlerResult.Done : await _behaviour(claimed, cancellationToken);
    }
}

/// <summary>A worker's clock that runs ahead of (or behind) the others; counts its timers' ticks so a test can wait on them.</summary>
public sealed class SkewedClock(TimeSpan offset) : TimeProvider
{
    private int _ticks;

    public int Ticks => Volatile.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + offset;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        base.CreateTimer(s =>
        {
            Interlocked.Increment(ref _ticks);
            callback(s);
        }, state, dueTime, period);
}

public sealed record HandledCall(NotificationTask Task, int Attempt, bool AlreadySent, DateTimeOffset At);
