using Notifications.Tasks;
namespace Notifications.Stores;

/// <summary>Where a notification task is on its way to the student.</summary>
public enum DeliveryStatus
{
    Queued,
    Sending,
    Sent,
    Retrying,
    Dead,
}

/// <summary>One step of one notification task, as the Api or the worker saw it happen.</summary>
public sealed record DeliveryEvent(string TaskId, DeliveryStatus Status, DateTimeOffset At, NotificationType Channel, string Recipient)
{
    /// <summary>The send attempt this event belongs to (0 before the first send).</summary>
    public int Attempt { get; init; }
    public string? Provider { get; init; }
    public string? ProviderMessageId { get; init; }
    /// <summary>Cut to <see cref="FieldLimits.LastError"/> characters.</summary>
    public string? Error { get; init; }
    public string? BatchId { get; init; }
    public string? SubmissionId { get; init; }
    public string? StudentId { get; init; }

    /// <summary>An event of <paramref name="task"/>, carrying its channel, recipient and correlation.</summary>
    public static DeliveryEvent Of(NotificationTask task, DeliveryStatus status, DateTimeOffset at) =>
        new(task.Id, status, at, task.Type, task.Recipient)
        {
            BatchId = task.Correlation?.BatchId,
            SubmissionId = task.Correlation?.SubmissionId,
            StudentId = task.Correlation?.StudentId,
        };
}

public sealed record DeliveryTimelineEntry(DeliveryStatus Status, DateTimeOffset At, int Attempt, string? Error, string? ProviderMessageId);

/// <summary>
/// A task's delivery so far. <see cref="Status"/> is that of the latest event by time, so an event that
/// arrives late (the Api's "queued" after the worker's "sending") does not move a task backwards.
/// <see cref="CreatedAt"/> is the earliest event's time, <see cref="UpdatedAt"/> the latest's.
/// </summary>
public sealed record DeliveryRecord(
    string TaskId,
    DeliveryStatus Status,
    NotificationType Channel,
    string Recipient,
    int Attempts,
    string? Provider,
    string? ProviderMessageId,
    string? LastError,
    string? BatchId,
    string? SubmissionId,
    string? StudentId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    IReadOnlyList<DeliveryTimelineEntry> Timeline);

/// <summary>
/// Filters for <see cref="IDeliveryLog.QueryAsync"/>; unset filters match everything. The time range
/// applies to <see cref="DeliveryRecord.CreatedAt"/>: <see cref="From"/> inclusive, <see cref="To"/> exclusive.
/// </summary>
public sealed record DeliveryQuery
{
    public string? Recipient { get; init; }
    public string? BatchId { get; init; }
    /// <summary>The student the notification is about (its correlation), for a student's own list.</summary>
    public string? StudentId { get; init; }
    public DeliveryStatus? Status { get; init; }
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
}

/// <summary>How many of a batch's tasks are in each status now; every status is present, zero when none.</summary>
public sealed record BatchDeliveryProgress(string BatchId, long Total, IReadOnlyDictionary<DeliveryStatus, long> ByStatus);

/// <summary>The delivery log: one record per notification task with its status timeline.</summary>
public interface IDeliveryLog
{
    /// <summary>
    /// Adds an event to its task's timeline, creating the record on the first event. Safe to call from
    /// several processes at once for the same task: every event is kept.
    /// </summary>
    Task AppendAsync(DeliveryEvent deliveryEvent, CancellationToken cancellationToken = default);

    /// <summary>Adds many events; a store may write them in one go (SQLite: one transaction).</summary>
    async Task AppendManyAsync(IReadOnlyCollection<DeliveryEvent> deliveryEvents, CancellationToken cancellationToken = default)
    {
        foreach (var deliveryEvent in deliveryEvents)
        {
            await AppendAsync(deliveryEvent, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <exception cref="NotFoundException">No event was logged for <paramref name="taskId"/>.</exception>
    Task<DeliveryRecord> GetAsync(string taskId, CancellationToken cancellationToken = default);

    /// <summary>Matching records, newest first.</summary>
    Task<Page<DeliveryRecord>> QueryAsync(DeliveryQuery query, PageRequest page, CancellationToken cancellationToken = default);

    Task<BatchDeliveryProgress> GetBatchProgressAsync(string batchId, CancellationToken cancellationToken = default);
}
