using System.Text.Json;

namespace Web.Dashboard.Services;

// The dashboard's own copies of the Api's JSON shapes. Enumerations stay strings so that a value
// the Api adds later shows as text instead of failing the whole page.

public sealed record QueueStats(
    IReadOnlyList<LaneStats> Lanes,
    long Dead,
    QueueCounters Counters,
    TimeSpan? OldestPendingAge,
    IReadOnlyList<MinuteThroughput> Throughput,
    long Pending,
    long Scheduled,
    long Leased);

public sealed record LaneStats(string Priority, long Pending, long Scheduled, long Leased);

public sealed record QueueCounters(long Enqueued, long Processed, long Failed, long Retried, long DeadLettered, long Recovered, long Revived);

public sealed record MinuteThroughput(DateTimeOffset Minute, long Completed);

public sealed record CacheStats(long Hits, long Misses, double HitRate);

public sealed record SystemMetrics(IReadOnlyList<SystemMetric> Metrics, bool RedisAvailable);

/// <summary>One measured resource against its alert threshold; <see cref="Level"/> is the Api's verdict.</summary>
public sealed record SystemMetric(string Name, double? Value, double Threshold, double? Capacity, string Unit, string Level);

public sealed record ThresholdAlert(string Metric, string Level, string Message, DateTimeOffset Since);

/// <summary>
/// The Api's health report. The Api lists <see cref="Dependencies"/>; an ASP.NET Core health report
/// names <see cref="Checks"/> instead. <see cref="All"/> reads either.
/// </summary>
public sealed record DependencyHealth(
    string Status,
    IReadOnlyList<DependencyStatus>? Dependencies = null,
    IReadOnlyDictionary<string, DependencyCheck>? Checks = null)
{
    public IReadOnlyList<DependencyStatus> All =>
        Dependencies ?? Checks?.Select(c => new DependencyStatus(c.Key, c.Value.Status, c.Value.Description, c.Value.Error)).ToList() ?? [];
}

public sealed record DependencyStatus(string Name, string Status, string? Description, string? Error = null);

public sealed record DependencyCheck(string Status, string? Description, string? Error);

public sealed record DeadLetterPage(IReadOnlyList<DeadLetter> Items, int Total);

/// <summary>A task that will not be tried again by itself. The payload is whatever JSON the Api sends.</summary>
public sealed record DeadLetter(string Id, DateTimeOffset DiedAt, string Error, string? Type, string? Recipient, JsonElement Payload);

public sealed record DeadLetterQuery(string? Search = null, string? Type = null, int Offset = 0, int Limit = 50);

/// <summary>A batch as listed; the Api includes its progress, and either its student ids or their count.</summary>
public sealed record BatchSummary(
    string Id,
    string Name,
    DateTimeOffset CreatedAt,
    int? StudentCount = null,
    IReadOnlyList<string>? StudentIds = null,
    BatchProgress? Progress = null)
{
    public int? Students => StudentCount ?? StudentIds?.Count;
}

public sealed record BatchPage(IReadOnlyList<BatchSummary> Items, long Total);

/// <summary>Only the progress is read from a batch's detail, so the rest of its shape may change freely.</summary>
public sealed record BatchDetail(BatchProgress? Progress);

/// <summary>
/// A batch's notifications as the Api counts them: sent (accepted, no receipt yet), delivered (the provider
/// confirmed it), failed (dead, undelivered, bounced or suppressed), pending; and the SMS parts and credits.
/// </summary>
public sealed record BatchProgress(long Sent, long Failed, long Pending, long Total)
{
    public long Delivered { get; init; }
    public long SmsParts { get; init; }
    public double CreditCost { get; init; }
}

/// <summary>One UTC day of SMS: messages, parts (segments) and provider credits.</summary>
public sealed record SmsUsageDay(DateOnly Day, long Messages, long Parts, double CreditCost, long Ucs2Messages = 0, long Ucs2Parts = 0);

public sealed record SmsUsage(DateOnly From, DateOnly To, IReadOnlyList<SmsUsageDay> Days, long Messages, long Parts, double CreditCost);

/// <summary>A recipient the worker will not send to, and why.</summary>
public sealed record Suppression(string Channel, string Address, string Reason, DateTimeOffset At, string? Source = null, string? TaskId = null);

public sealed record SuppressionPage(IReadOnlyList<Suppression> Items, long Total);

public sealed record SuppressionAuditEntry(string Action, string Channel, string Address, string? Reason, string Actor, DateTimeOffset At);

public sealed record SuppressionAuditPage(IReadOnlyList<SuppressionAuditEntry> Items, long Total);

public sealed record DeliveryPage(IReadOnlyList<DeliveryRecord> Items, long Total);

public sealed record DeliveryRecord(
    string TaskId,
    string Status,
    string Channel,
    string Recipient,
    string? Provider,
    string? ProviderMessageId,
    string? LastError,
    int Attempts,
    IReadOnlyList<DeliveryEvent>? Timeline,
    DateTimeOffset? UpdatedAt = null)
{
    public DateTimeOffset? LastChangedAt => UpdatedAt ?? (Timeline is { Count: > 0 } ? Timeline.Max(e => e.At) : null);
}

public sealed record DeliveryEvent(string Status, DateTimeOffset At);

public sealed record DeliveryQuery(string? BatchId = null, string? Recipient = null, string? Status = null, int Page = 1, int PageSize = 50);

public sealed record OutboxPage(IReadOnlyList<OutboxMessage> Items, int Total);

/// <summary>A message as the student received it from the local outbox provider.</summary>
public sealed record OutboxMessage(
    string Id,
    DateTimeOffset CreatedAt,
    string TaskId,
    string Channel,
    string Recipient,
    string? Subject,
    string TextBody,
    string? HtmlBody);
