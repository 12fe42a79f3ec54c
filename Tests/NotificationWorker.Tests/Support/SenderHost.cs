using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using NotificationWorker.Sending;
using Notifications.Tests.Infrastructure;
using StackExchange.Redis;

namespace NotificationWorker.Tests.Support;

/// <summary>
/// The worker's sending registration as Program.cs builds it (ServiceDefaults included, so its
/// standard resilience handler is in play), with configuration from the test only.
/// </summary>
public sealed class SenderHost : IAsyncDisposable
{
    private readonly IHost _host;

    private SenderHost(IHost host, FakeTimeProvider time, string contentRoot)
    {
        _host = host;
        Time = time;
        ContentRoot = contentRoot;
    }

    public FakeTimeProvider Time { get; }

    public string ContentRoot { get; }

    public IServiceProvider Services => _host.Services;

    public MessageSenders Senders => Services.GetRequiredService<MessageSenders>();

    public static readonly DateTimeOffset Start = new(2026, 11, 26, 9, 0, 0, TimeSpan.Zero);

    // One Garnet for every sender host of the test run: senders keep their deduplication ids and circuit
    // reports in Redis. Keys are per task id (tests that look at them use their own ids).
    private static readonly Lazy<Task<IConnectionMultiplexer>> s_redis = new(async () =>
    {
        var garnet = await GarnetTestServer.StartAsync();
        return await ConnectionMultiplexer.ConnectAsync(garnet.Endpoint + ",abortConnect=false");
    });

    public static Task<IConnectionMultiplexer> SharedRedisAsync() => s_redis.Value;

    public static SenderHost Create(IDictionary<string, string?> settings, IProviderRateLimiter? rateLimiter = null)
    {
        var contentRoot = Directory.CreateTempSubdirectory("sender-host-").FullName;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = contentRoot,
            EnvironmentName = Environments.Development,
        });
        builder.Configuration.AddInMemoryCollection(settings);

        var time = new FakeTimeProvider(Start);
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.TryAddSingleton(rateLimiter ?? new UnlimitedRateLimiter());
        builder.Services.TryAddSingleton(SharedRedisAsync().GetAwaiter().GetResult());
        builder.AddServiceDefaults();
        builder.AddMessageSenders();
        return new SenderHost(builder.Build(), time, contentRoot);
    }

    public Task StartAsync() => _host.StartAsync(TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_host is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        try
        {
            Directory.Delete(ContentRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class UnlimitedRateLimiter : IProviderRateLimiter
    {
        public Task<RateLimitLease> AcquireAsync(string provider, TimeSpan maxWait, CancellationToken ct) =>
            Task.FromResult(RateLimitLease.Unlimited);
    }
}
