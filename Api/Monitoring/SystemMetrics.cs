using System.Globalization;
using Microsoft.Extensions.Options;
using Notifications.Monitoring;
using Notifications.Queue;
using StackExchange.Redis;

namespace Api.Monitoring;

public static class MetricNames
{
    public const string RedisMemory = "redis-memory";
    public const string AppMemory = "app-memory";
    public const string Disk = "disk";
    public const string Pending = "pending";
}

public static class MetricLevels
{
    public const string Green = "green";
    public const string Amber = "amber";
    public const string Red = "red";
    public const string Unknown = "unknown";
}

/// <param name="Value">Null when it cannot be measured (Garnet has no used_memory; Redis away).</param>
public sealed record Metric(string Name, double? Value, double Threshold, double? Capacity, string Unit, string Level);

/// <param name="OpenCircuits">Providers whose sends the workers hold back (refused requests or an outage).</param>
public sealed record SystemSnapshot(IReadOnlyList<Metric> Metrics, bool RedisAvailable)
{
    public IReadOnlyList<ProviderCircuit> OpenCircuits { get; init; } = [];
}

/// <summary>Measures the four things the old plan alerts on and colours each against its threshold.</summary>
public sealed class SystemMetrics(
    IConnectionMultiplexer redis, QueueMonitor queue, ProcessMemoryReports memoryReports, ProviderCircuits circuits, IHostEnvironment environment,
    IOptionsMonitor<MonitoringOptions> options, TimeProvider time)
{
    public async Task<SystemSnapshot> MeasureAsync(CancellationToken cancellationToken)
    {
        var thresholds = options.CurrentValue.Thresholds;
        double? redisMemory = null, appMemory = null, pending = null;
        IReadOnlyList<ProviderCircuit> openCircuits = [];
        var redisAvailable = redis.IsConnected;
        if (redisAvailable)
        {
            try
            {
                redisMemory = await UsedMemoryAsync().ConfigureAwait(false);
                var reports = await memoryReports.ReadAsync(cancellationToken).ConfigureAwait(false);
                appMemory = reports.Sum(r => r.WorkingSetBytes);
                pending = (await queue.GetStatsAsync(cancellationToken).ConfigureAwait(false)).Pending;
                openCircuits = await circuits.ListOpenAsync(time.GetUtcNow()).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or RedisCommandException or TimeoutException)
            {
                redisAvailable = false;
            }
        }

        var drive = new DriveInfo(Path.GetPathRoot(environment.ContentRootPath) ?? "/");
        double diskUsed = drive.TotalSize - drive.AvailableFreeSpace;

        return new SystemSnapshot(
        [
            Rate(MetricNames.RedisMemory, redisMemory, thresholds.RedisMemoryBytes, thresholds.RedisMemoryCapacityBytes, "bytes", thresholds.AmberRatio),
            Rate(MetricNames.AppMemory, appMemory, thresholds.AppMemoryBytes, thresholds.AppMemoryCapacityBytes, "bytes", thresholds.AmberRatio),
            Rate(MetricNames.Disk, diskUsed, thresholds.DiskBytes, thresholds.DiskCapacityBytes, "bytes", thresholds.AmberRatio),
            Rate(MetricNames.Pending, pending, thresholds.PendingTasks, null, "tasks", thresholds.AmberRatio),
        ], redisAvailable)
        {
            OpenCircuits = openCircuits,
        };
    }

    public static Metric Rate(string name, double? value, double threshold, double? capacity, string unit, double amberRatio)
    {
        var level = value switch
        {
            null => MetricLevels.Unknown,
            var v when v >= threshold => MetricLevels.Red,
            var v when v >= threshold * amberRatio => MetricLevels.Amber,
            _ => MetricLevels.Green,
        };
        return new Metric(name, value, threshold, capacity, unit, level);
    }

    /// <summary>INFO memory's used_memory; null on servers without it (Garnet).</summary>
    private async Task<double?> UsedMemoryAsync()
    {
        var server = redis.GetServers().FirstOrDefault(s => s.IsConnected && !s.IsReplica);
        if (server is null)
        {
            return null;
        }
        var info = await server.InfoAsync("memory").ConfigureAwait(false);
        var used = info.SelectMany(group => group).FirstOrDefault(pair => pair.Key == "used_memory").Value;
        return double.TryParse(used, NumberStyles.Float, CultureInfo.InvariantCulture, out var bytes) ? bytes : null;
    }
}
