using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using Notifications.Tasks;
using StackExchange.Redis;

namespace Notifications.Benchmarks;

/// <summary>
/// <c>bench/run.sh queue</c>: 20,000 tasks of the old plan's example size through the queue, on a
/// redis-server with AOF everysec (the setup the BullMQ and Hangfire reference figures were taken on).
/// Prints raw LPUSH figures from the same client first, as the floor of what Redis allows here.
/// </summary>
internal static class QueueBenchmark
{
    private const int Tasks = 20_000;
    private const int Callers = 100;
    private const int Concurrency = 50;

    public static async Task<int> RunAsync()
    {
        await using var server = await LocalRedisServer.StartOrUseAsync(Environment.GetEnvironmentVariable("REDIS"));
        using var redis = await ConnectionMultiplexer.ConnectAsync($"{server.Endpoint},allowAdmin=true");
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        using var metrics = new QueueMetrics(meters);
        s_cpuProbe = redis;
        Console.WriteLine($"redis {server.Endpoint} ({server.Description}), {Tasks} tasks, {Environment.ProcessorCount} cores");

        var floor = await LpushFloorAsync(redis.GetDatabase());
        Console.WriteLine($"baseline: raw LPUSH, {Callers} callers: {floor:F0}/s");

        // A second floor: what one script call with the enqueue's three commands costs, without the queue's own code.
        {
            var db = redis.GetDatabase();
            var script = "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) local l = redis.call('LPUSH', KEYS[2], ARGV[1]) redis.call('HINCRBY', KEYS[3], 'enqueued', 1) return l";
            var body = new byte[150];
            var scriptFloor = await MeasureAsync(Tasks, async () =>
            {
                var next = 0;
                await Task.WhenAll(Enumerable.Range(0, Callers).Select(async _ =>
                {
                    while (Interlocked.Increment(ref next) <= Tasks)
                    {
                        await db.ScriptEvaluateAsync(script, ["x1", "x2", "x3"], [Guid.NewGuid().ToString(), body]);
                    }
                }));
            });
            Console.WriteLine($"baseline: the enqueue script's three commands as a bare script, {Callers} callers: {scriptFloor:F0}/s");
        }
        await WarmUpAsync(redis, metrics);
        var single = NewQueue(redis, metrics, "bench-single");
        var enqueuePerSecond = await MeasureAsync(Tasks, async () =>
        {
            var next = 0;
            await Task.WhenAll(Enumerable.Range(0, Callers).Select(async _ =>
            {
                while (Interlocked.Increment(ref next) <= Tasks)
                {
                    await single.Queue.EnqueueAsync(ExampleSms(), CancellationToken.None);
                }
            }));
        });
        Console.WriteLine($"enqueue, one at a time, {Callers} callers: {enqueuePerSecond:F0}/s");

        var bulk = NewQueue(redis, metrics, "bench-bulk");
        var before = await UsedMemoryAsync(redis);
        var batchPerSecond = await MeasureAsync(Tasks, async () =>
        {
            foreach (var chunk in Enumerable.Range(0, Tasks).Chunk(1_000))
            {
                await bulk.Queue.EnqueueManyAsync([.. chunk.Select(_ => ExampleSms())], CancellationToken.None);
            }
        });
        var bytesPerTask = before is null ? (double?)null : ((await UsedMemoryAsync(redis))!.Value - before.Value) / (double)Tasks;
        Console.WriteLine($"enqueue, batches of 1,000: {batchPerSecond:F0}/s; {bytesPerTask:F0} bytes of Redis memory per pending task");

        var handler = new CountingHandler(Tasks);
        var consumer = new QueueConsumer(redis, bulk.Options, handler, TimeProvider.System, metrics, NullLogger<QueueConsumer>.Instance);
        using var stop = new CancellationTokenSource();
        Task? run = null;
        var processPerSecond = await MeasureAsync(Tasks, async () =>
        {
            run = consumer.RunAsync(stop.Token);
            await handler.AllDone.Task;
            // A task counts as processed once acknowledged: wait for the last acknowledgements too.
            while ((await bulk.Monitor.GetStatsAsync()).Counters.Processed < Tasks)
            {
                await Task.Delay(2);
            }
        });
        await stop.CancelAsync();
        await run!;
        Console.WriteLine($"process, no-op handler, concurrency {Concurrency}: {processPerSecond:F0}/s");

        var (idleCommandsPerSecond, idleCpuPercent) = await IdleCostAsync(redis, metrics);
        Console.WriteLine($"idle: one consumer with nothing to do costs Redis {idleCommandsPerSecond:F1} commands/s, {idleCpuPercent:F2}% CPU");

        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["tasks"] = Tasks,
            ["lpush_floor_per_s"] = Math.Round(floor),
            ["enqueue_per_s"] = Math.Round(enqueuePerSecond),
            ["enqueue_batch_per_s"] = Math.Round(batchPerSecond),
            ["process_per_s"] = Math.Round(processPerSecond),
            ["redis_bytes_per_task"] = bytesPerTask is null ? null : Math.Round(bytesPerTask.Value),
            ["idle_redis_commands_per_s"] = Math.Round(idleCommandsPerSecond, 1),
        }));
        return 0;
    }

    /// <summary>What an idle consumer costs Redis: its poll and maintenance, over ten seconds.</summary>
    private static async Task<(double CommandsPerSecond, double CpuPercent)> IdleCostAsync(IConnectionMultiplexer redis, QueueMetrics metrics)
    {
        var idle = NewQueue(redis, metrics, "bench-idle");
        using var stop = new CancellationTokenSource();
        var run = new QueueConsumer(redis, idle.Options, new CountingHandler(int.MaxValue), TimeProvider.System, metrics, NullLogger<QueueConsumer>.Instance).RunAsync(stop.Token);
        await Task.Delay(1_000); // past start-up
        var server = redis.GetServers()[0];
        var commandsBefore = await TotalCommandsAsync(server);
        var cpuBefore = await RedisCpuSecondsAsync();
        var window = TimeSpan.FromSeconds(10);
        await Task.Delay(window);
        // The two INFO calls of this measurement are not the consumer's.
        var commands = await TotalCommandsAsync(server) - commandsBefore - 2;
        var cpu = await RedisCpuSecondsAsync() - cpuBefore;
        await stop.CancelAsync();
        await run;
        return (commands / window.TotalSeconds, (cpu ?? 0) / window.TotalSeconds * 100);
    }

    private static async Task<long> TotalCommandsAsync(IServer server)
    {
        var info = await server.InfoAsync("stats");
        return long.Parse(info.SelectMany(g => g).First(p => p.Key == "total_commands_processed").Value, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Runs every measured path a few thousand times first, so the JIT has compiled the optimised
    /// code and the scripts are loaded before anything is timed.
    /// </summary>
    private static async Task WarmUpAsync(IConnectionMultiplexer redis, QueueMetrics metrics)
    {
        const int warmUpTasks = 5_000;
        var warm = NewQueue(redis, metrics, "bench-warm-up");
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(async _ =>
        {
            for (var i = 0; i < warmUpTasks / Callers; i++)
            {
                await warm.Queue.EnqueueAsync(ExampleSms(), CancellationToken.None);
            }
        }));
        await warm.Queue.EnqueueManyAsync([.. Enumerable.Range(0, warmUpTasks).Select(_ => ExampleSms())], CancellationToken.None);
        var handler = new CountingHandler(2 * warmUpTasks);
        using var stop = new CancellationTokenSource();
        var run = new QueueConsumer(redis, warm.Options, handler, TimeProvider.System, metrics, NullLogger<QueueConsumer>.Instance).RunAsync(stop.Token);
        await handler.AllDone.Task;
        await stop.CancelAsync();
        await run;
        await Task.Delay(500); // let tiered compilation finish in the background
    }

    /// <summary>The old plan's example task: all five data fields, as in its queue structure.</summary>
    private static NotificationRequest ExampleSms() => new()
    {
        Type = NotificationType.Sms,
        Data = new NotificationData
        {
            Phone = "+1234567890",
            Message = "Welcome message",
            Email = "user@example.com",
            Subject = "Welcome",
            Content = "Email content",
        },
    };

    private static (NotificationQueue Queue, QueueMonitor Monitor, QueueOptions Options) NewQueue(IConnectionMultiplexer redis, QueueMetrics metrics, string name)
    {
        var options = new QueueOptions { Name = $"{name}-{Guid.NewGuid():N}"[..30], Concurrency = Concurrency, Prefetch = 200 };
        var wrapped = Options.Create(options);
        return (new NotificationQueue(redis, wrapped, TimeProvider.System, metrics), new QueueMonitor(redis, wrapped, TimeProvider.System, metrics), options);
    }

    private static async Task<double> LpushFloorAsync(IDatabase db)
    {
        var key = "bench-floor-" + Guid.NewGuid().ToString("N");
        var payload = new string('x', 200);
        var rate = await MeasureAsync(Tasks, async () =>
        {
            var next = 0;
            await Task.WhenAll(Enumerable.Range(0, Callers).Select(async _ =>
            {
                while (Interlocked.Increment(ref next) <= Tasks)
                {
                    await db.ListLeftPushAsync(key, payload);
                }
            }));
        });
        await db.KeyDeleteAsync(key);
        return rate;
    }

    private static IConnectionMultiplexer? s_cpuProbe;

    /// <summary>Times the work, and says how much of it Redis spent: tells a client-bound from a server-bound figure.</summary>
    private static async Task<double> MeasureAsync(int count, Func<Task> work)
    {
        var cpuBefore = await RedisCpuSecondsAsync();
        var scriptsBefore = await ScriptCallsAsync();
        var clientCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        await work();
        var elapsed = stopwatch.Elapsed;
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpuBefore;
        var cpuAfter = await RedisCpuSecondsAsync();
        var scriptsAfter = await ScriptCallsAsync();
        if (cpuBefore is not null && cpuAfter is not null)
        {
            Console.WriteLine($"  redis-server CPU {(cpuAfter.Value - cpuBefore.Value) / elapsed.TotalSeconds:P0} of the wall time, {(cpuAfter.Value - cpuBefore.Value) * 1e6 / count:F1} us and {(scriptsAfter - scriptsBefore) / (double)count:F3} script calls per task; this client {clientCpu.TotalMicroseconds / count:F1} us per task");
        }
        return count / elapsed.TotalSeconds;
    }

    private static async Task<long> ScriptCallsAsync()
    {
        if (s_cpuProbe is null)
        {
            return 0;
        }
        var info = await s_cpuProbe.GetServers()[0].InfoAsync("commandstats");
        return info.SelectMany(g => g).Where(p => p.Key is "cmdstat_evalsha" or "cmdstat_eval")
            .Sum(p => long.Parse(p.Value.Split(',')[0].Split('=')[1], CultureInfo.InvariantCulture));
    }

    private static async Task<double?> RedisCpuSecondsAsync()
    {
        if (s_cpuProbe is null)
        {
            return null;
        }
        var info = await s_cpuProbe.GetServers()[0].InfoAsync("cpu");
        var values = info.SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        return double.Parse(values["used_cpu_user"], CultureInfo.InvariantCulture) + double.Parse(values["used_cpu_sys"], CultureInfo.InvariantCulture);
    }

    private static async Task<long?> UsedMemoryAsync(IConnectionMultiplexer redis)
    {
        var info = await redis.GetServers()[0].InfoAsync("memory");
        var usedMemory = info.SelectMany(g => g).FirstOrDefault(p => p.Key == "used_memory").Value;
        return usedMemory is null ? null : long.Parse(usedMemory, CultureInfo.InvariantCulture);
    }

    private sealed class CountingHandler(int expected) : INotificationHandler
    {
        private int _handled;

        public TaskCompletionSource AllDone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask<HandlerResult> HandleAsync(ClaimedTask claimed, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _handled) == expected)
            {
                AllDone.TrySetResult();
            }
            return ValueTask.FromResult(HandlerResult.Done);
        }
    }
}
