using System.Collections.Concurrent;
using System.Globalization;
using Api.Sending;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using StackExchange.Redis;

namespace Api.Monitoring;

public sealed record ActiveAlert(string Metric, string Level, string Message, DateTimeOffset Since);

/// <summary>Which metrics are amber or red now, and since when (as this instance has seen them).</summary>
public sealed class AlertBoard(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (string Level, DateTimeOffset Since)> _since = new();

    public IReadOnlyList<ActiveAlert> Update(SystemSnapshot snapshot)
    {
        var now = time.GetUtcNow();
        var alerts = new List<ActiveAlert>();
        foreach (var metric in snapshot.Metrics)
        {
            if (metric.Level is not (MetricLevels.Amber or MetricLevels.Red))
            {
                _since.TryRemove(metric.Name, out _);
                continue;
            }
            var entry = _since.AddOrUpdate(metric.Name, (metric.Level, now), (_, old) => old.Level == metric.Level ? old : (metric.Level, now));
            alerts.Add(new ActiveAlert(metric.Name, metric.Level, Describe(metric), entry.Since));
        }
        foreach (var circuit in snapshot.OpenCircuits)
        {
            alerts.Add(new ActiveAlert(CircuitMetric(circuit.Provider), MetricLevels.Red,
                $"{circuit.Provider} is not taking our sends: {circuit.Reason} Its notifications wait in the queue, using no attempt, until it does.",
                circuit.Since));
        }
        return alerts;
    }

    public static string CircuitMetric(string provider) => "provider_circuit:" + provider;

    public static string Describe(Metric metric) => metric.Unit == "bytes"
        ? string.Create(CultureInfo.InvariantCulture, $"{metric.Name} is {metric.Value / (1024 * 1024):0} MB; the threshold is {metric.Threshold / (1024 * 1024):0} MB.")
        : string.Create(CultureInfo.InvariantCulture, $"{metric.Name} is {metric.Value:0} {metric.Unit}; the threshold is {metric.Threshold:0}.");
}

/// <summary>
/// Checks the thresholds every <see cref="MonitoringOptions.AlertCheckInterval"/>; a red metric queues an
/// alert email to the admins through the notification queue, at most once per metric and
/// <see cref="MonitoringOptions.AlertCooldown"/> across every Api instance (a Redis key set with NX).
/// </summary>
public sealed partial class AlertMonitor(
    SystemMetrics metrics, AlertBoard board, NotificationQueue queue, IConnectionMultiplexer redis,
    IOptionsMonitor<MonitoringOptions> options, TimeProvider time, ILogger<AlertMonitor> logger) : BackgroundService
{
    public const string CooldownKeyPrefix = "{monitoring}:alert:";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await CheckOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogCheckFailed(logger, ex);
            }
            await Task.Delay(options.CurrentValue.AlertCheckInterval, time, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <returns>The metrics an alert email was queued for.</returns>
    public async Task<IReadOnlyList<string>> CheckOnceAsync(CancellationToken cancellationToken)
    {
        var snapshot = await metrics.MeasureAsync(cancellationToken).ConfigureAwait(false);
        var alerts = board.Update(snapshot);
        var settings = options.CurrentValue;
        var alerted = new List<string>();
        if (settings.AdminEmails.Count == 0 || !redis.IsConnected)
        {
            return alerted;
        }
        foreach (var alert in alerts.Where(a => a.Level == MetricLevels.Red))
        {
            var window = time.GetUtcNow().ToUnixTimeSeconds() / (long)Math.Max(1, settings.AlertCooldown.TotalSeconds);
            if (!await redis.GetDatabase().StringSetAsync(CooldownKeyPrefix + alert.Metric, window, settings.AlertCooldown, When.NotExists).ConfigureAwait(false))
            {
                continue;
            }
            var requests = settings.AdminEmails.Select(admin => NotificationRequest.Email(admin, $"[AI-VERSANT] {alert.Metric} is red",
                $"{alert.Message}\nSince {alert.Since:u}.", priority: Notifications.Tasks.NotificationPriority.High) with
            {
                IdempotencyKey = $"alert:{alert.Metric}:{window}:{admin}",
            }).ToList();
            // Straight to the queue: an alert belongs to no stored change, and Redis has just answered.
            await queue.EnqueueManyAsync(requests, cancellationToken).ConfigureAwait(false);
            alerted.Add(alert.Metric);
        }
        return alerted;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert check failed")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}
