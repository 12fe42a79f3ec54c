using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Notifications.Queue;

/// <summary>
/// Reads the queue's stats every few seconds so that the depth and oldest-age gauges of
/// <see cref="QueueMetrics"/> have fresh values when OpenTelemetry collects them.
/// </summary>
public sealed partial class QueueStatsSampler(QueueMonitor monitor, TimeProvider time, ILogger<QueueStatsSampler> logger) : BackgroundService
{
    private static readonly TimeSpan s_interval = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(s_interval, time);
        do
        {
            try
            {
                await monitor.GetStatsAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogUnavailable(ex);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false) is true);
    }

    [LoggerMessage(LogLevel.Debug, "Could not read the queue's stats for the gauges")]
    private partial void LogUnavailable(Exception exception);
}
