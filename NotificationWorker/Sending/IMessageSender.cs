using Notifications.Tasks;
namespace NotificationWorker.Sending;

/// <summary>Sends one message through one provider.</summary>
public interface IMessageSender
{
    /// <summary>The provider's name as used in telemetry, rate-limit keys and the delivery log (<see cref="ProviderNames"/>).</summary>
    string Name { get; }

    NotificationType Channel { get; }

    /// <summary>
    /// Sends <paramref name="message"/>. Every provider outcome comes back as a <see cref="SendResult"/>;
    /// only <see cref="OperationCanceledException"/> (when <paramref name="ct"/> is cancelled) is thrown.
    /// Any other exception is a bug.
    /// </summary>
    Task<SendResult> SendAsync(OutgoingMessage message, CancellationToken ct);
}
