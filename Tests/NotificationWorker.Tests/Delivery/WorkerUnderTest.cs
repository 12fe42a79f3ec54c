using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Notifications.Queue;
using Notifications.Stores;
using WireMock.Server;

namespace NotificationWorker.Tests.Delivery;

/// <summary>
/// The real worker (its Program, DI and hosted services) against a real redis-server, a temporary
/// SQLite delivery log and a local server that speaks BulkSMS's HTTP API.
/// </summary>
public sealed class WorkerUnderTest : IAsyncDisposable
{
    private readonly WebApplicationFactory<Program> _factory;

    private WorkerUnderTest(WebApplicationFactory<Program> factory, string queueName, string legacyListKey)
    {
        _factory = factory;
        QueueName = queueName;
        LegacyListKey = legacyListKey;
    }

    public string QueueName { get; }
    public string LegacyListKey { get; }
    public IServiceProvider Services => _factory.Services;
    public NotificationQueue Queue => Services.GetRequiredService<NotificationQueue>();
    public QueueMonitor Monitor => Services.GetRequiredService<QueueMonitor>();
    public DeadLetters DeadLetters => Services.GetRequiredService<DeadLetters>();
    public IDeliveryLog DeliveryLog => Services.GetRequiredService<IDeliveryLog>();

    public static WorkerUnderTest Start(string redisEndpoint, WireMockServer bulkSms, IDictionary<string, string?>? settings = null)
    {
        var queueName = "worker-" + Guid.NewGuid().ToString("N")[..10];
        var legacyListKey = "notification_queue_" + Guid.NewGuid().ToString("N")[..10];
        var directory = Directory.CreateTempSubdirectory("worker-test-").FullName;
        var all = new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redisEndpoint,
            ["DocumentStore:Provider"] = "Sqlite",
            ["ConnectionStrings:documents"] = $"Data Source={Path.Combine(directory, "store.db")}",
            ["BULKSMS_USERNAME"] = "school",
            ["BULKSMS_PASSWORD"] = "secret",
            ["Sending:BulkSms:BaseUrl"] = bulkSms.Url + "/v1",
            ["Sending:Outbox:Directory"] = Path.Combine(directory, "outbox"),
            ["Sending:CircuitBreaker:BreakDuration"] = "00:00:01",
            ["Sending:CircuitBreaker:SamplingDuration"] = "00:00:05",
            ["Sending:CircuitBreaker:MinimumThroughput"] = "4",
            ["Sending:RateLimits:BulkSms:PerSecond"] = "1000",
            ["Sending:RateLimits:BulkSms:Burst"] = "1000",
            ["NotificationQueue:Name"] = queueName,
            ["NotificationQueue:PollInterval"] = "00:00:00.100",
            ["NotificationQueue:RetryBaseDelay"] = "00:00:00.200",
            ["NotificationQueue:RetryMaxDelay"] = "00:00:01",
            ["LegacyIntake:ListKey"] = legacyListKey,
            ["LegacyIntake:PollInterval"] = "00:00:00.100",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(host =>
        {
            host.UseEnvironment("Development");
            foreach (var (key, value) in all)
            {
                host.UseSetting(key, value);
            }
        });
        _ = factory.Server; // starts the host and its hosted services
        return new WorkerUnderTest(factory, queueName, legacyListKey);
    }

    public async Task WaitUntilAsync(Func<QueueStats, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(await Monitor.GetStatsAsync()))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for: {what}; last stats {JsonSerializer.Serialize(await Monitor.GetStatsAsync())}");
            }
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync() => await _factory.DisposeAsync();
}
