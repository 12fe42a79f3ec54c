using Microsoft.Extensions.Diagnostics.HealthChecks;
using Notifications.Stores;
using StackExchange.Redis;

namespace Api.Sending;

/// <summary>
/// Redis, with the outbox's depth beside it: while Redis is away the Api keeps accepting writes (their
/// notifications wait in the store's outbox), so it is Degraded rather than Unhealthy.
/// </summary>
public sealed class QueueHealthCheck(IConnectionMultiplexer redis, INotificationOutbox outbox) : IHealthCheck
{
    public const string Name = "queue";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var waiting = await outbox.CountAsync(cancellationToken).ConfigureAwait(false);
        var data = new Dictionary<string, object> { ["outbox"] = waiting };
        try
        {
            if (redis.IsConnected)
            {
                var latency = await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                data["redisLatencyMs"] = latency.TotalMilliseconds;
                return HealthCheckResult.Healthy($"Redis answers; {waiting} notifications in the outbox.", data);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return HealthCheckResult.Degraded($"Redis does not answer ({ex.Message}); {waiting} notifications wait in the outbox.", ex, data);
        }
        return HealthCheckResult.Degraded($"Redis is not connected; {waiting} notifications wait in the outbox.", data: data);
    }
}
