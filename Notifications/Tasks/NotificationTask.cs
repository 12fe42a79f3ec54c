using System.Text.Json.Serialization;

namespace Notifications.Tasks;

/// <summary>
/// One notification to deliver. The JSON shape is the old plan's task schema (<c>id</c>, <c>type</c>,
/// <c>data</c>, <c>timestamp</c>, <c>retry_count</c>, <c>max_retries</c>) so that tasks pushed by the old
/// Python backend read as-is; the other fields are optional and omitted when empty to keep each
/// pending task small in Redis.
/// </summary>
public sealed record NotificationTask
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("type")]
    public required NotificationType Type { get; init; }

    [JsonPropertyName("data")]
    public required NotificationData Data { get; init; }

    /// <summary>Unix time in seconds when the task was first queued (the old plan's <c>time.time()</c>).</summary>
    [JsonPropertyName("timestamp")]
    public double Timestamp { get; init; }

    /// <summary>Failed attempts so far; the task is dead-lettered when it exceeds <see cref="MaxRetries"/>.</summary>
    [JsonPropertyName("retry_count")]
    public int RetryCount { get; init; }

    [JsonPropertyName("max_retries")]
    public int MaxRetries { get; init; } = 3;

    [JsonPropertyName("priority")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public NotificationPriority Priority { get; init; } = NotificationPriority.Normal;

    [JsonPropertyName("idempotency_key")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? IdempotencyKey { get; init; }

    [JsonPropertyName("correlation")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Correlation? Correlation { get; init; }

    /// <summary>W3C trace context of the request that queued the task, so the send links to it.</summary>
    [JsonPropertyName("traceparent")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TraceParent { get; init; }

    [JsonPropertyName("tracestate")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TraceState { get; init; }

    [JsonPropertyName("last_error")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? LastError { get; init; }

    /// <summary>Unix milliseconds of the last failed attempt or dead-lettering.</summary>
    [JsonPropertyName("failed_at")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long FailedAtMs { get; init; }

    [JsonIgnore]
    public DateTimeOffset QueuedAt => DateTimeOffset.FromUnixTimeMilliseconds((long)(Timestamp * 1000));

    /// <summary>The address this task goes to: the phone for SMS, the email address for email.</summary>
    [JsonIgnore]
    public string Recipient => (Type == NotificationType.Sms ? Data?.Phone : Data?.Email) ?? "";
}

[JsonConverter(typeof(JsonStringEnumConverter<NotificationType>))]
public enum NotificationType
{
    [JsonStringEnumMemberName("sms")]
    Sms,

    [JsonStringEnumMemberName("email")]
    Email,
}

/// <summary>Order of service: high (one-time codes) before normal before bulk (uploads, batch notices).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<NotificationPriority>))]
public enum NotificationPriority
{
    // Normal is the zero value so that the JSON of most tasks leaves it out (a few bytes less per pending task).
    [JsonStringEnumMemberName("normal")]
    Normal = 0,

    [JsonStringEnumMemberName("high")]
    High = 1,

    [JsonStringEnumMemberName("bulk")]
    Bulk = 2,
}

/// <summary>The old plan's <c>data</c> object: SMS uses phone and message; email uses email, subject and content.</summary>
public sealed record NotificationData
{
    [JsonPropertyName("phone")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Phone { get; init; }

    [JsonPropertyName("message")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Message { get; init; }

    [JsonPropertyName("email")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Email { get; init; }

    [JsonPropertyName("subject")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Subject { get; init; }

    /// <summary>Plain-text body of an email.</summary>
    [JsonPropertyName("content")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Content { get; init; }

    [JsonPropertyName("html")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Html { get; init; }
}

/// <summary>What the notification is about, for the delivery log and batch progress.</summary>
public sealed record Correlation
{
    [JsonPropertyName("batch_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BatchId { get; init; }

    [JsonPropertyName("submission_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? SubmissionId { get; init; }

    [JsonPropertyName("student_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StudentId { get; init; }
}
