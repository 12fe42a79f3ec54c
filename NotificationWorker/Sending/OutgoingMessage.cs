using Notifications.Tasks;
using Notifications.Templates;

namespace NotificationWorker.Sending;

/// <summary>A notification rendered and addressed, ready for a provider.</summary>
/// <param name="TaskId">The queue task this message belongs to; providers that deduplicate use it.</param>
/// <param name="Recipient">An E.164 phone number for SMS, an email address for email.</param>
public sealed record OutgoingMessage(
    string TaskId,
    NotificationType Channel,
    string Recipient,
    string? Subject,
    string TextBody,
    string? HtmlBody);

/// <summary>
/// What a provider made of one send. Provider outcomes are results, never exceptions: a sender
/// throws only for cancellation or a bug.
/// </summary>
public abstract record SendResult
{
    private SendResult(string provider) => Provider = provider;

    public string Provider { get; }

    /// <summary>The provider accepted the message.</summary>
    public sealed record Sent(string Provider, string? ProviderMessageId) : SendResult(Provider)
    {
        /// <summary>The parts the provider says it sends (BulkSMS's <c>numberOfParts</c>), when it says.</summary>
        public int? SmsParts { get; init; }
        /// <summary>What the provider charged (BulkSMS's <c>creditCost</c>), when it says.</summary>
        public double? CreditCost { get; init; }
    }

    /// <summary>Worth another attempt later: outage, throttling, timeout, or a fault on our side the operator can fix.</summary>
    public sealed record TransientFailure(string Provider, string Error, TimeSpan? RetryAfter) : SendResult(Provider);

    /// <summary>
    /// Not sent, and the provider was not called (its circuit is open, or the shared rate limit has no
    /// slot soon enough): try again after <paramref name="RetryAfter"/> without counting an attempt,
    /// so an outage does not use up the tasks' retries.
    /// </summary>
    public sealed record Deferred(string Provider, string Reason, TimeSpan RetryAfter) : SendResult(Provider);

    /// <summary>
    /// The provider refused the request as a whole: our credentials, account, credit or request format,
    /// not this recipient. The task waits <paramref name="RetryAfter"/> without using an attempt (an
    /// operator's fix then delivers the backlog instead of a pile of dead letters), and the circuit
    /// breaker counts it, so a stream of them stops the sends and raises the alert.
    /// </summary>
    public sealed record RequestRefused(string Provider, string Error, TimeSpan RetryAfter) : SendResult(Provider);

    /// <summary>The same request can never succeed (an invalid number or address): dead-letter it with this reason.</summary>
    public sealed record PermanentFailure(string Provider, string Error) : SendResult(Provider);
}

public static class RenderedNotificationExtensions
{
    public static OutgoingMessage ToMessage(this RenderedNotification rendered, string taskId, NotificationType channel, string recipient) =>
        new(taskId, channel, recipient, rendered.Subject, rendered.TextBody, rendered.HtmlBody);
}
