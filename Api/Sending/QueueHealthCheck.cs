using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace Api.Sending;

/// <summary>
/// Redis and the spool together: while Redis is away (or the spool still holds requests) the Api keeps
/// accepting writes, so it is Degraded rather than Unhealthy.
/// </summary>
public sealed class QueueHealthCheck(IConnectionMultiplexer redis, NotificationSpool spool) : IHealthCheck
{
    public const string Name = "queue";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var spooled = spool.FileCount;
        var data = new Dictionary<string, object> { ["spooled"] = spooled };
        try
        {
            if (redis.IsConnected)
            {
                var latency = await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                data["redisLatencyMs"] = latency.TotalMilliseconds;
                return spooled == 0
                    ? HealthCheckResult.Healthy("Redis answers.", data)
                    : HealthCheckResult.Degraded($"Redis answers; {spooled} spool files still to drain.", data: data);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return HealthCheckResult.Degraded($"Redis does not answer ({ex.Message}); writes are spooled to disk ({spooled} waiting).", ex, data);
        }
        return HealthCheckResult.Degraded($"Redis is not connected; writes are spooled to disk ({spooled} waiting).", data: data);
    }
}
