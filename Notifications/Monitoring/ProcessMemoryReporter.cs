using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Notifications.Monitoring;

/// <summary>
/// Writes this process's working set to Redis every <see cref="ReportInterval"/> under
/// <c>{monitoring}:memory:&lt;service&gt;:&lt;instance&gt;</c>, expiring after <see cref="ReportLifetime"/>:
/// the Api sums the fresh reports into the application memory gauge, and a missing report means the
/// process is gone.
/// </summary>
public sealed partial class ProcessMemoryReporter(
    IConnectionMultiplexer redis, ProcessMemoryReporterSettings settings, ILogger<ProcessMemoryReporter> logger) : BackgroundService
{
    public static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan ReportLifetime = TimeSpan.FromSeconds(30);

    private readonly string _instance = $"{Environment.MachineName}-{Environment.ProcessId}";

    public string Key => MemoryReportKeys.For(settings.ServiceName, _instance);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ReportInterval);
        do
        {
            try
            {
                await ReportOnceAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // Redis being away is reported by health checks; the next tick tries again.
                LogReportFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    public async Task ReportOnceAsync()
    {
        using var process = Process.GetCurrentProcess();
        await redis.GetDatabase().StringSetAsync(Key, process.WorkingSet64.ToString(CultureInfo.InvariantCulture), ReportLifetime).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not report process memory: {Reason}")]
    private static partial void LogReportFailed(ILogger logger, string reason);
}

public sealed record ProcessMemoryReporterSettings(string ServiceName);

/// <summary>Key names shared by the reporters and the reader; one hash tag, so a cluster keeps them together.</summary>
public static class MemoryReportKeys
{
    public const string Prefix = "{monitoring}:memory:";

    public static string For(string service, string instance) => Prefix + service + ":" + instance;

    /// <summary>The service name of a report key, or null when the key is not one.</summary>
    public static string? ServiceOf(string key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }
        var rest = key[Prefix.Length..];
        var colon = rest.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? rest[..colon] : null;
    }
}

/// <summary>A fresh memory report: one process of one service.</summary>
public sealed record ProcessMemoryReport(string Service, string Instance, long WorkingSetBytes);

/// <summary>Reads the reports every service writes.</summary>
public sealed class ProcessMemoryReports(IConnectionMultiplexer redis)
{
    public async Task<IReadOnlyList<ProcessMemoryReport>> ReadAsync(CancellationToken cancellationToken = default)
    {
        var keys = new List<RedisKey>();
        foreach (var endpoint in redis.GetEndPoints())
        {
            var server = redis.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }
            await foreach (var key in server.KeysAsync(pattern: MemoryReportKeys.Prefix + "*", pageSize: 500).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                keys.Add(key);
            }
        }
        if (keys.Count == 0)
        {
            return [];
        }
        var values = await redis.GetDatabase().StringGetAsync([.. keys]).ConfigureAwait(false);
        var reports = new List<ProcessMemoryReport>(keys.Count);
        for (var i = 0; i < keys.Count; i++)
        {
            var key = (string)keys[i]!;
            if (values[i].TryParse(out long bytes) && MemoryReportKeys.ServiceOf(key) is { } service)
            {
                reports.Add(new ProcessMemoryReport(service, key[(MemoryReportKeys.Prefix.Length + service.Length + 1)..], bytes));
            }
        }
        return reports;
    }
}

public static class ProcessMemoryReporterExtensions
{
    /// <summary>
    /// Reports this process's working set to Redis for the Api's application-memory gauge. Uses the
    /// registered <see cref="IConnectionMultiplexer"/> (Aspire's <c>AddRedisClient</c>); a service without
    /// one (the dashboard reads everything through the Api) gets a connection of its own from
    /// <c>ConnectionStrings:redis</c>, and reports nothing when that is missing.
    /// </summary>
    public static TBuilder AddProcessMemoryReporter<TBuilder>(this TBuilder builder, string serviceName) where TBuilder : IHostApplicationBuilder
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(ProcessMemoryReporterSettings)))
        {
            return builder;
        }
        var hasMultiplexer = services.Any(d => d.ServiceType == typeof(IConnectionMultiplexer));
        var connectionString = builder.Configuration.GetConnectionString(ConnectionStringName);
        if (!hasMultiplexer && string.IsNullOrWhiteSpace(connectionString))
        {
            return builder;
        }
        services.AddSingleton(new ProcessMemoryReporterSettings(serviceName));
        if (hasMultiplexer)
        {
            services.AddHostedService<ProcessMemoryReporter>();
        }
        else
        {
            var options = ConfigurationOptions.Parse(connectionString!);
            options.AbortOnConnectFail = false;
            services.AddHostedService(sp => new ProcessMemoryReporter(
                ConnectionMultiplexer.Connect(options), sp.GetRequiredService<ProcessMemoryReporterSettings>(), sp.GetRequiredService<ILogger<ProcessMemoryReporter>>()));
        }
        return builder;
    }

    private const string ConnectionStringName = "redis";
}
