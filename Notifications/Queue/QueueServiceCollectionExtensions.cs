using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Notifications.Queue;

public static class QueueServiceCollectionExtensions
{
    /// <summary>
    /// Registers the producer, monitor and dead letters of the notification queue. The caller
    /// registers the <see cref="StackExchange.Redis.IConnectionMultiplexer"/> (Aspire's <c>AddRedisClient</c>).
    /// </summary>
    public static IHostApplicationBuilder AddNotificationQueue(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<QueueOptions>()
            .BindConfiguration(QueueOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton<QueueMetrics>();
        builder.Services.TryAddSingleton<NotificationTaskFactory>();
        builder.Services.TryAddSingleton<NotificationQueue>();
        builder.Services.TryAddSingleton<QueueMonitor>();
        builder.Services.TryAddSingleton<DeadLetters>();
        builder.Services.TryAddSingleton<Monitoring.ProviderCircuits>();
        return builder;
    }
}
