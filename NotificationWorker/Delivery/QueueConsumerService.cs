using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using StackExchange.Redis;

namespace NotificationWorker.Delivery;

/// <summary>Runs the queue consumer for the lifetime of the worker process.</summary>
public sealed class QueueConsumerService(
    IConnectionMultiplexer redis,
    IOptions<QueueOptions> options,
    DeliveryHandler handler,
    TimeProvider time,
    QueueMetrics metrics,
    ILogger<QueueConsumer> logger) : BackgroundService
{
    public QueueConsumer Consumer { get; } = new(redis, options.Value, handler, time, metrics, logger);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Consumer.RunAsync(stoppingToken);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // The consumer needs its own shutdown timeout to finish or give back tasks in hand;
        // the host's token would cut that short.
        await base.StopAsync(CancellationToken.None);
    }
}

/// <summary>
/// Unhealthy when the consume loop has faulted (a bug: nothing is being delivered) or Redis cannot
/// be reached; Degraded while starting or stopping.
/// </summary>
public sealed class QueueConsumerHealthCheck(QueueConsumerService service, IConnectionMultiplexer redis) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var consumer = service.Consumer;
        var data = new Dictionary<string, object> { ["state"] = consumer.State.ToString(), ["inHand"] = consumer.InHand };
        HealthCheckResult result = consumer.State switch
        {
            ConsumerState.Faulted => HealthCheckResult.Unhealthy("The queue consumer faulted.", consumer.Fault, data),
            _ when !redis.IsConnected => HealthCheckResult.Unhealthy("Redis is unreachable: no task can be claimed.", data: data),
            ConsumerState.Running => HealthCheckResult.Healthy($"Consuming; {consumer.InHand} tasks in hand.", data),
            _ => HealthCheckResult.Degraded($"The consumer is {consumer.State.ToString().ToLowerInvariant()}.", data: data),
        };
        return Task.FromResult(result);
    }
}
