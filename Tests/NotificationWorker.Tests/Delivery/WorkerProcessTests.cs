using Notifications.Testing;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using Notifications.Tests.Infrastructure;
using NotificationWorker.Sending;
using StackExchange.Redis;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace NotificationWorker.Tests.Delivery;

/// <summary>Real worker processes: two sharing one provider rate limit, and one killed with SIGKILL.</summary>
public sealed class WorkerProcessTests : IAsyncLifetime
{
    private const string Accepted = """[{"id":"7001","type":"SENT","status":{"type":"ACCEPTED"}}]""";
    private readonly WireMockServer _bulkSms = WireMockServer.Start();
    private readonly string _queueName = "process-" + Guid.NewGuid().ToString("N")[..10];
    private readonly string _directory = Directory.CreateTempSubdirectory("worker-process-").FullName;
    private RedisServerProcess _redis = null!;
    private ConnectionMultiplexer _connection = null!;
    private QueueHarnessLite _queue = null!;

    public async ValueTask InitializeAsync()
    {
        _redis = await RedisServerProcess.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.Endpoint);
        _queue = new QueueHarnessLite(_connection, _queueName);
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
        _bulkSms.Stop();
        _bulkSms.Dispose();
    }

    [Fact]
    public async Task TwoWorkerProcesses_SharingTwentySmsPerSecond_StayWithinTenPercentOfIt()
    {
        _bulkSms.Given(Request.Create().WithPath("/v1/messages").UsingPost())
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json").WithBody(Accepted));
        await _queue.Queue.EnqueueManyAsync([.. Enumerable.Range(0, 200).Select(Sms)], TestContext.Current.CancellationToken);

        using var first = WorkerProcess.Start(Settings(perSecond: 20));
        using var second = WorkerProcess.Start(Settings(perSecond: 20));
        await WaitUntilAsync(() => SentCount() >= 160, TimeSpan.FromSeconds(60), "160 sends at the shared limit");

        // The steady part: from the 20th send on, past start-up and the first burst.
        var times = _bulkSms.LogEntries.Select(e => e.RequestMessage!.DateTime).Order().ToArray();
        var steady = times[20..160];
        // The slope of a least-squares line through the send times, not first-to-last: the times are
        // taken in this (possibly starved) test process, and a late first or early last stamp alone
        // would move a two-point rate by several percent.
        var origin = steady[0];
        var seconds = steady.Select(t => (t - origin).TotalSeconds).ToArray();
        var meanIndex = (seconds.Length - 1) / 2.0;
        var meanSeconds = seconds.Average();
        var slope = seconds.Select((t, i) => (i - meanIndex) * (t - meanSeconds)).Sum()
            / seconds.Select((_, i) => (i - meanIndex) * (i - meanIndex)).Sum();
        var rate = 1 / slope;
        TestContext.Current.TestOutputHelper?.WriteLine($"two workers sent at {rate:F2}/s against a shared limit of 20/s");
        // The limit is the safety property: never more than 10% over it. A stalled worker (a loaded
        // machine) only sends less, so the lower bound is loose.
        Assert.InRange(rate, 12.0, 22.0);
        Assert.False(first.HasExited || second.HasExited, "both workers ran throughout");
    }

    [Fact]
    public async Task KilledWorker_AfterRestart_EveryTaskIsDelivered_AndAnyResendCarriesTheSameDeduplicationId()
    {
        _bulkSms.Given(Request.Create().WithPath("/v1/messages").UsingPost())
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json").WithBody(Accepted)
                .WithDelay(TimeSpan.FromMilliseconds(100)));
        var queued = await _queue.Queue.EnqueueManyAsync([.. Enumerable.Range(0, KilledWorkerTasks).Select(Sms)], TestContext.Current.CancellationToken);

        using (var victim = WorkerProcess.Start(Settings(perSecond: 1000)))
        {
            await WaitUntilAsync(() => SentCount() >= 30, TimeSpan.FromSeconds(60), "the first worker is sending");
            victim.Kill();
        }
        var sentBeforeKill = SentCount();
        using var survivor = WorkerProcess.Start(Settings(perSecond: 1000));
        await WaitUntilAsync(async () => (await _queue.Monitor.GetStatsAsync()).Counters.Processed == KilledWorkerTasks, TimeSpan.FromSeconds(120), "every task is completed");

        var requests = _bulkSms.LogEntries.Select(e => (
            To: JsonDocument.Parse(e.RequestMessage!.Body!).RootElement[0].GetProperty("to")[0].GetProperty("address").GetString()!,
            DeduplicationId: e.RequestMessage!.Query!["deduplication-id"].Single())).ToArray();
        var byRecipient = requests.GroupBy(r => r.To).ToArray();
        Assert.Equal(KilledWorkerTasks, byRecipient.Length);
        // A resend can only be a task the killed worker had in flight, and it carries the task's
        // deduplication id, which BulkSMS uses to drop the repeat: the student gets one text.
        Assert.All(byRecipient, sends => Assert.Single(sends.Select(s => s.DeduplicationId).Distinct()));
        var resent = byRecipient.Count(sends => sends.Count() > 1);
        TestContext.Current.TestOutputHelper?.WriteLine($"{sentBeforeKill} requests before the kill; {resent} tasks resent with their deduplication id");
        Assert.True(resent <= 16, $"{resent} tasks were resent; at most the 16 in flight at the kill may be");
        Assert.True(sentBeforeKill < KilledWorkerTasks, "the kill came mid-run");
        var stats = await _queue.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, stats.Pending + stats.Leased + stats.Scheduled + stats.Dead);
        Assert.Equal(KilledWorkerTasks, queued.Count);
    }

    // Enough work (about 3 s at 16 in flight) that the kill, seen after 30 sends, lands mid-run on a loaded machine.
    private const int KilledWorkerTasks = 500;

    private Dictionary<string, string> Settings(int perSecond) => new()
    {
        ["ConnectionStrings:redis"] = _redis.Endpoint,
        ["DocumentStore:Provider"] = "Sqlite",
        ["ConnectionStrings:documents"] = $"Data Source={Path.Combine(_directory, "store.db")}",
        ["BULKSMS_USERNAME"] = "school",
        ["BULKSMS_PASSWORD"] = "secret",
        ["Sending:BulkSms:BaseUrl"] = _bulkSms.Url + "/v1",
        ["Sending:Outbox:Directory"] = Path.Combine(_directory, "outbox"),
        ["Sending:RateLimits:BulkSms:PerSecond"] = perSecond.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Sending:RateLimits:BulkSms:Burst"] = "1",
        ["NotificationQueue:Name"] = _queueName,
        ["NotificationQueue:Concurrency"] = "16",
        ["NotificationQueue:Prefetch"] = "0",
        // A lease a stalled worker does not lose: resends then come only from the kill.
        ["NotificationQueue:LeaseDuration"] = "00:00:10",
        ["NotificationQueue:HeartbeatInterval"] = "00:00:01",
        ["NotificationQueue:PollInterval"] = "00:00:00.100",
        ["LegacyIntake:Enabled"] = "false",
    };

    private int SentCount() => _bulkSms.LogEntries.Count();

    private static NotificationRequest Sms(int i) => NotificationRequest.Sms($"+1555000{i:D4}", $"Your result is ready ({i})");

    private static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, what);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for: {what}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>The producer and monitor of the workers' queue, as the Api would hold them.</summary>
    private sealed class QueueHarnessLite : IAsyncDisposable
    {
        private readonly ServiceProvider _services;

        public QueueHarnessLite(IConnectionMultiplexer redis, string name)
        {
            var services = new ServiceCollection();
            services.AddSingleton(redis);
            services.AddSingleton(TimeProvider.System);
            services.AddMetrics();
            services.AddSingleton(Options.Create(new QueueOptions { Name = name }));
            services.AddSingleton<QueueMetrics>();
            services.AddSingleton<NotificationQueue>();
            services.AddSingleton<QueueMonitor>();
            _services = services.BuildServiceProvider();
        }

        public NotificationQueue Queue => _services.GetRequiredService<NotificationQueue>();
        public QueueMonitor Monitor => _services.GetRequiredService<QueueMonitor>();

        public ValueTask DisposeAsync() => _services.DisposeAsync();
    }
}
