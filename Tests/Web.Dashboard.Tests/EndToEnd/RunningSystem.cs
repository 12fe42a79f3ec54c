using System.Net;
using System.Net.Http.Headers;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using Notifications.Tasks;
using StackExchange.Redis;
using Web.Dashboard.Security;
using Web.Dashboard.Services;

namespace Web.Dashboard.Tests.EndToEnd;

/// <summary>
/// The AppHost (Api, dashboard, Debian's redis-server as an existing server, embedded store) started for one test, with a
/// known dashboard password, a known token secret and a pending-task threshold of 1. The worker is
/// left unstarted, so that queued tasks stay pending long enough to be seen.
/// </summary>
internal sealed class RunningSystem : IAsyncDisposable
{
    public const string StaffUser = "admin";
    public const string StaffPassword = "e2e-dashboard-password";
    public const string TokenSecret = "e2e-shared-token-secret-0123456789abcdefghijkl";
    public const string QueueName = QueueOptions.DefaultName;

    private static readonly string[] s_resources = ["redis", "documents", "api", "web-dashboard"];

    private readonly DebianRedisServer _redisServer;
    private readonly DistributedApplication _app;
    private readonly IHost _queueClient;

    private RunningSystem(DebianRedisServer redisServer, DistributedApplication app, IHost queueClient)
    {
        _redisServer = redisServer;
        _app = app;
        _queueClient = queueClient;
    }

    public Uri DashboardAddress => _app.GetEndpoint("web-dashboard", "http");

    public NotificationQueue Queue => _queueClient.Services.GetRequiredService<NotificationQueue>();

    public IConnectionMultiplexer Redis => _queueClient.Services.GetRequiredService<IConnectionMultiplexer>();

    public static async Task<RunningSystem> StartAsync(CancellationToken cancellationToken)
    {
        var redisServer = await DebianRedisServer.StartAsync(cancellationToken);
        DistributedApplication? app = null;
        try
        {
            var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            [
                $"Backends:EmbeddedDataDirectory={Directory.CreateTempSubdirectory("dashboard-e2e-").FullName}",
                $"ConnectionStrings:redis=127.0.0.1:{redisServer.Port}",
                $"Parameters:dashboard-password={StaffPassword}",
                $"Parameters:jwt-secret-key={TokenSecret}",
            ], cancellationToken);
            appHost.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Information));
            // One pending task is already "too many", so the alert shows as soon as tasks wait.
            appHost.CreateResourceBuilder<ProjectResource>("api")
                .WithEnvironment("Monitoring__Thresholds__PendingTasks", "1");
            // A running worker would send the queued tasks within milliseconds (outbox provider).
            appHost.CreateResourceBuilder<ProjectResource>("notification-worker").WithExplicitStart();

            app = await appHost.BuildAsync(cancellationToken);
            await app.StartAsync(cancellationToken);
            foreach (var resource in s_resources)
            {
                await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, cancellationToken);
            }

            var queueClient = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            var redis = await ConnectionMultiplexer.ConnectAsync((await app.GetConnectionStringAsync("redis", cancellationToken))!);
            queueClient.Services.AddSingleton<IConnectionMultiplexer>(redis);
            queueClient.AddNotificationQueue();
            return new RunningSystem(redisServer, app, queueClient.Build());
        }
        catch
        {
            // Nothing owns the app and the server yet: stop them here, or they outlive the test.
            if (app is not null)
            {
                await app.DisposeAsync();
            }
            await redisServer.DisposeAsync();
            throw;
        }
    }

    /// <summary>An Api client carrying a staff token minted with the shared secret, as the dashboard mints it.</summary>
    public HttpClient CreateStaffApiClient()
    {
        var client = _app.CreateHttpClient("api");
        var token = new ApiTokenIssuer(Options.Create(new ApiTokenOptions { SigningKey = TokenSecret }), TimeProvider.System).MintFor(StaffUser);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public async Task<bool> ApiServesMonitoringAsync(CancellationToken cancellationToken)
    {
        using var api = CreateStaffApiClient();
        using var response = await api.GetAsync("/api/monitoring/queue", cancellationToken);
        return response.StatusCode != HttpStatusCode.NotFound;
    }

    /// <summary>Whether the Api lists a memory report of the dashboard within its first report interval and a half.</summary>
    public async Task<bool> DashboardHasReportedMemoryAsync(CancellationToken cancellationToken)
    {
        using var api = CreateStaffApiClient();
        var deadline = DateTime.UtcNow + DashboardMemoryReporter.ReportInterval * 1.5;
        do
        {
            using var response = await api.GetAsync("/api/monitoring/memory", cancellationToken);
            var reports = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken)).RootElement;
            if (reports.EnumerateArray().Any(r => r.GetProperty("service").GetString() == DashboardMemoryReporter.ServiceName
                && r.GetProperty("workingSetBytes").GetInt64() > 0))
            {
                return true;
            }
            await Task.Delay(500, cancellationToken);
        }
        while (DateTime.UtcNow < deadline);
        return false;
    }

    /// <summary>
    /// Writes a dead letter the way the queue leaves one after the last failed attempt: the task body,
    /// its last error and its time of death, under the queue's keys.
    /// </summary>
    public async Task<string> AddDeadLetterAsync(string phone, string error)
    {
        var keys = new QueueKeys(QueueName);
        var id = TaskIds.New();
        var now = DateTimeOffset.UtcNow;
        var task = new NotificationTask
        {
            Id = id,
            Type = NotificationType.Sms,
            Data = new NotificationData { Phone = phone, Message = "Your results are ready." },
            Timestamp = now.AddMinutes(-10).ToUnixTimeMilliseconds() / 1000.0,
            RetryCount = 4,
            MaxRetries = 3,
            LastError = error,
            FailedAtMs = now.ToUnixTimeMilliseconds(),
        };
        var db = Redis.GetDatabase();
        var transaction = db.CreateTransaction();
        _ = transaction.HashSetAsync(keys.Tasks, id, TaskJson.Serialize(task));
        _ = transaction.HashSetAsync(keys.DeadErrors, id, error);
        _ = transaction.SortedSetAddAsync(keys.Dead, id, now.ToUnixTimeMilliseconds());
        _ = transaction.HashIncrementAsync(keys.Stats, "dead_lettered");
        Assert.True(await transaction.ExecuteAsync());
        return id;
    }

    public async ValueTask DisposeAsync()
    {
        _queueClient.Dispose();
        await _app.DisposeAsync();
        await _redisServer.DisposeAsync();
    }
}
