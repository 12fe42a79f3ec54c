using NotificationWorker.Delivery;
using Notifications.Queue;
using Notifications.Receipts;
using NotificationWorker.Sending;

namespace Microsoft.Extensions.Hosting;

public static class DeliveryExtensions
{
    /// <summary>
    /// Registers the queue consumer with the delivery handler, the legacy intake, the local outbox's receipts
    /// and the worker's health check. Needs the queue, the document store and the message senders registered.
    /// </summary>
    public static TBuilder AddNotificationDelivery<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddNotificationQueue();
        builder.Services.AddOptions<LegacyIntakeOptions>().BindConfiguration(LegacyIntakeOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<DeliveryHandler>();
        builder.Services.AddSingleton<QueueConsumerService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<QueueConsumerService>());
        builder.Services.AddHostedService<LegacyQueueIntake>();
        builder.Services.AddHostedService<QueueStatsSampler>();
        // The outbox (the development provider) reports deliveries through the intake the Api's webhooks use.
        builder.Services.AddOptions<OutboxReceiptOptions>().BindConfiguration(OutboxReceiptOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ReceiptIntake>();
        builder.Services.AddSingleton<OutboxReceipts>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OutboxReceipts>());
        builder.Services.AddHealthChecks().AddCheck<QueueConsumerHealthCheck>("queue-consumer");
        return builder;
    }
}
