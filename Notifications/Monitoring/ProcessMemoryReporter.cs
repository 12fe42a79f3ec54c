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

    private readonly string _instance = MemoryReportKeys.ThisProcess;

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

    public Task ReportOnceAsync() => ProcessMemoryReports.WriteAsync(redis, settings.ServiceName, _instance, WorkingSetBytes());

    public static long WorkingSetBytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not report process memory: {Reason}")]
    private static partial void LogReportFailed(ILogger logger, string reason);
}

public sealed record ProcessMemoryReporterSettings(string ServiceName);

/// <summary>Key names shared by the reporters and the reader; one hash tag, so a cluster keeps them together.</summary>
public static partial class MemoryReportKeys
{
    public const string Prefix = "{monitoring}:memory:";

    /// <summary>This process's instance name: machine and process id, any character outside <see cref="IsInstanceName"/>'s set replaced by '-'.</summary>
    public static string ThisProcess { get; } = InstanceUnsafe().Replace($"{Environment.MachineName}-{Environment.ProcessId}", "-");

    /// <summary>Service names are lower-case words joined by dashes (api, notification-worker, web-dashboard).</summary>
    public static bool IsServiceName(string? value) => value is { Length: > 0 and <= 64 } && ServicePattern().IsMatch(value);

    /// <summary>Instance names: letters, digits, dot, dash, underscore (a host name and a process id).</summary>
    public static bool IsInstanceName(string? value) => value is { Length: > 0 and <= 128 } && InstancePattern().IsMatch(value);

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial System.Text.RegularExpressions.Regex ServicePattern();

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial System.Text.RegularExpressions.Regex InstancePattern();

    [System.Text.RegularExpressions.GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial System.Text.RegularExpressions.Regex InstanceUnsafe();

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
    /// <summary>
    /// Stores one process's working set for <see cref="ProcessMemoryReporter.ReportLifetime"/>. Services
    /// with a Redis connection call it through their reporter; the dashboard, which has none, through the Api.
    /// </summary>
    public static Task WriteAsync(IConnectionMultiplexer redis, string service, string instance, long workingSetBytes)
    {
        if (!MemoryReportKeys.IsServiceName(service) || !MemoryReportKeys.IsInstanceName(instance) || workingSetBytes <= 0)
        {
            throw new ArgumentException($"Not a memory report: service '{service}', instance '{instance}', {workingSetBytes} bytes.");
        }
        return redis.GetDatabase().StringSetAsync(MemoryReportKeys.For(service, instance),
            workingSetBytes.ToString(CultureInfo.InvariantCulture), ProcessMemoryReporter.ReportLifetime);
    }

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

