using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using NotificationWorker.Sending;

namespace NotificationWorker.Delivery;

/// <summary>
/// Sends one task through the provider of its channel and writes the outcome to the delivery log
/// before the queue acknowledges it.
/// </summary>
/// <remarks>
/// The send is made idempotent by the queue's sent marker: it is set the moment the provider
/// accepts, before anything else can fail, so a redelivery (this process died, or lost its lease)
/// arrives with <see cref="ClaimedTask.AlreadySent"/> and is only recorded, not sent again.
/// </remarks>
public sealed class DeliveryHandler(MessageSenders senders, IDeliveryLog deliveryLog, ISuppressionList suppressions, SendingTelemetry telemetry,
    TimeProvider time) : INotificationHandler
{
    public async ValueTask<HandlerResult> HandleAsync(ClaimedTask claimed, CancellationToken cancellationToken)
    {
        var task = claimed.Task;
        var sender = senders.ForChannel(task.Type);
        if (claimed.AlreadySent)
        {
            await deliveryLog.AppendAsync(Event(task, DeliveryStatus.Sent, claimed.Attempt) with
            {
                Provider = sender.Name,
                Error = "Sent by an earlier delivery that was not acknowledged; not sent again.",
            }, cancellationToken);
            return HandlerResult.Done;
        }

        // Read at every send, not cached: a suppression lifted a moment ago lets the very next notification go.
        if (task.Recipient.Length > 0 && await suppressions.FindAsync(task.Type, task.Recipient, cancellationToken) is { } suppression)
        {
            // Not sent and not retried: the provider would refuse it, or bill it, or the student asked us to stop.
            await deliveryLog.AppendAsync(Event(task, DeliveryStatus.Suppressed, claimed.Attempt) with
            {
                Error = $"Not sent: {suppression.Address} is on the suppression list since {suppression.At:u} ({suppression.Reason}).",
            }, cancellationToken);
            return HandlerResult.Done;
        }

        await deliveryLog.AppendAsync(Event(task, DeliveryStatus.Sending, claimed.Attempt) with { Provider = sender.Name }, cancellationToken);
        var result = await sender.SendAsync(ToMessage(task), cancellationToken);
        switch (result)
        {
            case SendResult.Sent sent:
                // Cancellation no longer applies: the student has the message; the marker must land.
                await claimed.MarkSentAsync(CancellationToken.None);
                await deliveryLog.AppendAsync(Event(task, DeliveryStatus.Sent, claimed.Attempt) with
                {
                    Provider = sent.Provider,
                    ProviderMessageId = sent.ProviderMessageId,
                    SmsParts = sent.SmsParts,
                    CreditCost = sent.CreditCost,
                }, CancellationToken.None);
                return HandlerResult.Done;

            case SendResult.TransientFailure transient:
                var exhausted = RetrySchedule.IsExhausted(claimed.Attempt, task.MaxRetries);
                await LogFailureAsync(claimed, exhausted ? DeliveryStatus.Dead : DeliveryStatus.Retrying, transient.Provider, transient.Error, cancellationToken);
                return HandlerResult.Retry(transient.Error, transient.RetryAfter);

            case SendResult.Deferred deferred:
                await LogFailureAsync(claimed, DeliveryStatus.Retrying, deferred.Provider, deferred.Reason, cancellationToken);
                return HandlerResult.Postpone(deferred.Reason, deferred.RetryAfter);

            case SendResult.RequestRefused refused:
                // Our request's fault, not the student's: wait for the fix without using an attempt.
                await LogFailureAsync(claimed, DeliveryStatus.Retrying, refused.Provider, refused.Error, cancellationToken);
                return HandlerResult.Postpone(refused.Error, refused.RetryAfter);

            case SendResult.PermanentFailure permanent:
                await LogFailureAsync(claimed, DeliveryStatus.Dead, permanent.Provider, permanent.Error, cancellationToken);
                return HandlerResult.Permanent(permanent.Error);

            default:
                throw new InvalidOperationException($"Unknown send result {result.GetType().Name}.");
        }
    }

    /// <summary>The queue dead-lettered a poison task, or its caps removed a dead letter: the record says so.</summary>
    public async ValueTask QueueEndedAsync(NotificationTask task, string reason, CancellationToken cancellationToken) =>
        await deliveryLog.AppendAsync(Event(task, DeliveryStatus.Dead, task.RetryCount + 1) with { Error = reason }, cancellationToken);

    /// <summary>Logs a failed or deferred attempt; a task given up on also counts as dead-lettered for its provider.</summary>
    private async Task LogFailureAsync(ClaimedTask claimed, DeliveryStatus status, string provider, string error, CancellationToken cancellationToken)
    {
        await deliveryLog.AppendAsync(Event(claimed.Task, status, claimed.Attempt) with { Provider = provider, Error = error }, cancellationToken);
        if (status == DeliveryStatus.Dead)
        {
            telemetry.RecordDeadLettered(provider, claimed.Task.Type);
        }
    }

    private static OutgoingMessage ToMessage(NotificationTask task) => task.Type == NotificationType.Sms
        ? new OutgoingMessage(task.Id, NotificationType.Sms, task.Data.Phone!, null, task.Data.Message!, null)
        : new OutgoingMessage(task.Id, NotificationType.Email, task.Data.Email!, task.Data.Subject, task.Data.Content ?? "", task.Data.Html);

    private DeliveryEvent Event(NotificationTask task, DeliveryStatus status, int attempt) =>
        DeliveryEvent.Of(task, status, time.GetUtcNow()) with { Attempt = attempt };
}
