using Notifications.Tasks;

namespace Notifications.Queue;

/// <summary>What a caller asks to send; the queue adds the id, timestamp and trace context.</summary>
public sealed record NotificationRequest
{
    public required NotificationType Type { get; init; }
    public required NotificationData Data { get; init; }
    public NotificationPriority Priority { get; init; } = NotificationPriority.Normal;

    /// <summary>Requests with the same key within the queue's idempotency window enqueue once.</summary>
    public string? IdempotencyKey { get; init; }

    public Correlation? Correlation { get; init; }

    /// <summary>Retries after the first attempt; the queue's default when null.</summary>
    public int? MaxRetries { get; init; }

    public static NotificationRequest Sms(string phone, string message, NotificationPriority priority = NotificationPriority.Normal) => new()
    {
        Type = NotificationType.Sms,
        Data = new NotificationData { Phone = phone, Message = message },
        Priority = priority,
    };

    public static NotificationRequest Email(string email, string subject, string content, string? html = null,
        NotificationPriority priority = NotificationPriority.Normal) => new()
    {
        Type = NotificationType.Email,
        Data = new NotificationData { Email = email, Subject = subject, Content = content, Html = html },
        Priority = priority,
    };
}

/// <summary>The request cannot become a task; nothing was queued.</summary>
public sealed class InvalidNotificationException(string message) : ArgumentException(message);

/// <summary>
/// The outcome of one enqueue: the task id, and whether another task already had the same idempotency key (a prepared
/// task enqueued again gets its own id back, with Duplicate false: its key names itself).
/// </summary>
public readonly record struct EnqueueResult(string TaskId, bool Duplicate);

/// <summary>
/// What the queue takes. Enqueueing checks it; a producer that must refuse one request of many before it
/// writes anything else (the Api's submission pipeline) checks it first.
/// </summary>
public static class NotificationRequestRules
{
    public const int MaxIdempotencyKeyLength = 200;
    public const int MaxBodyBytes = 256 * 1024;

    /// <exception cref="InvalidNotificationException">The request breaks a rule; the message says which.</exception>
    public static void Validate(NotificationRequest request)
    {
        if (!Enum.IsDefined(request.Type))
        {
            throw new InvalidNotificationException($"Unknown notification type '{request.Type}'.");
        }
        if (!Enum.IsDefined(request.Priority))
        {
            throw new InvalidNotificationException($"Unknown priority '{request.Priority}'.");
        }
        var data = request.Data ?? throw new InvalidNotificationException("A notification needs its data.");
        if (request.Type == NotificationType.Sms)
        {
            Require(data.Phone, "An SMS needs a phone number.");
            Require(data.Message, "An SMS needs a message.");
            var segments = SmsSegments.Count(data.Message!);
            if (segments.Parts > SmsSegments.MaxParts)
            {
                throw new InvalidNotificationException(
                    $"An SMS may take at most {SmsSegments.MaxParts} parts; this one needs {segments.Parts} ({segments.Units} {segments.Encoding} units). Shorten it.");
            }
        }
        else
        {
            Require(data.Email, "An email needs an address.");
            Require(data.Subject, "An email needs a subject.");
            if (string.IsNullOrWhiteSpace(data.Content) && string.IsNullOrWhiteSpace(data.Html))
            {
                throw new InvalidNotificationException("An email needs a text or HTML body.");
            }
        }
        if (request.IdempotencyKey is { } key && (key.Length == 0 || key.Length > MaxIdempotencyKeyLength))
        {
            throw new InvalidNotificationException($"An idempotency key must have 1 to {MaxIdempotencyKeyLength} characters.");
        }
        if (request.MaxRetries is < 0 or > 100)
        {
            throw new InvalidNotificationException("MaxRetries must be between 0 and 100.");
        }
    }

    private static void Require(string? value, string message)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new InvalidNotificationException(message);
        }
    }
}
