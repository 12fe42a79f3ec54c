using Notifications.Tasks;
namespace Notifications.Stores;

/// <summary>Where a notification task is on its way to the student.</summary>
public enum DeliveryStatus
{
    Queued,
    Sending,
    /// <summary>The provider accepted it (or, from a receipt, is still passing it on).</summary>
    Sent,
    Retrying,
    Dead,
    /// <summary>The provider reports it reached the phone or the mailbox.</summary>
    Delivered,
    /// <summary>The provider gave up on it (an SMS that expired, a blocked number, an email error); the reason says why.</summary>
    Undelivered,
    /// <summary>The recipient's mail server refused it for good, or the address is invalid.</summary>
    Bounced,
    /// <summary>The recipient marked it as spam or unsubscribed.</summary>
    Complained,
    /// <summary>Not sent: the recipient is on the suppression list.</summary>
    Suppressed,
}

/// <summary>The order in which a task's status may move, whatever order events arrive in.</summary>
public static class DeliveryStatuses
{
    /// <summary>
    /// Events of a higher rank win the status over any of a lower one, late or not; within a rank the newer
    /// event wins (the worker's own steps, by time). A provider's outcome thus outranks everything the worker
    /// saw (a late "sent" report does not undo "delivered"), and a complaint outranks a delivery it follows.
    /// </summary>
    public static int Rank(DeliveryStatus status) => status switch
    {
        DeliveryStatus.Delivered => 1,
        DeliveryStatus.Undelivered or DeliveryStatus.Bounced => 2,
        DeliveryStatus.Complained => 3,
        _ => 0,
    };

    /// <summary>Statuses that clear the last error when they win: the message got through.</summary>
    public static bool IsSuccess(DeliveryStatus status) => status is DeliveryStatus.Sent or DeliveryStatus.Delivered;

    /// <summary>The statuses of <see cref="Rank"/> above 0, each with its rank: the stores write their queries from these.</summary>
    public static IEnumerable<(DeliveryStatus Status, int Rank)> Ranked =>
        Enum.GetValues<DeliveryStatus>().Select(s => (s, Rank(s))).Where(r => r.Item2 > 0);

    /// <summary>The statuses <see cref="IsSuccess"/> holds for.</summary>
    public static IEnumerable<DeliveryStatus> Successes => Enum.GetValues<DeliveryStatus>().Where(IsSuccess);

    /// <summary>Finished without reaching the student.</summary>
    public static bool IsFailure(DeliveryStatus status) =>
        status is DeliveryStatus.Dead or DeliveryStatus.Undelivered or DeliveryStatus.Bounced or DeliveryStatus.Suppressed;

    /// <summary>Still on its way: in the queue, being sent, or waiting for a retry.</summary>
    public static bool IsPending(DeliveryStatus status) =>
        status is DeliveryStatus.Queued or DeliveryStatus.Sending or DeliveryStatus.Retrying;
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
    /// <summary>SMS parts: counted when the SMS is queued, then as the provider reports it.</summary>
    public int? SmsParts { get; init; }
    /// <summary>GSM-7 or UCS-2, with <see cref="SmsParts"/>.</summary>
    public SmsEncoding? SmsEncoding { get; init; }
    /// <summary>What the provider charged, in its credits, when it says.</summary>
    public double? CreditCost { get; init; }
    /// <summary>
    /// Set on an event from a provider's receipt: the same receipt arriving again is not stored again.
    /// </summary>
    public string? ReceiptId { get; init; }

    /// <summary>An event of <paramref name="task"/>, carrying its channel, recipient and correlation.</summary>
    public static DeliveryEvent Of(NotificationTask task, DeliveryStatus status, DateTimeOffset at)
    {
        // An SMS's parts are counted once, when it is queued.
        var segments = task.Type == NotificationType.Sms && status == DeliveryStatus.Queued && task.Data?.Message is { } text
            ? SmsSegments.Count(text)
            : (SmsSegments?)null;
        return new(task.Id, status, at, task.Type, task.Recipient)
        {
            BatchId = task.Correlation?.BatchId,
            SubmissionId = task.Correlation?.SubmissionId,
            StudentId = task.Correlation?.StudentId,
            SmsParts = segments?.Parts,
            SmsEncoding = segments?.Encoding,
        };
    }
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
    IReadOnlyList<DeliveryTimelineEntry> Timeline)
{
    /// <summary>An SMS's parts (segments): counted when queued, then as the provider reports them.</summary>
    public int? SmsParts { get; init; }
    public SmsEncoding? SmsEncoding { get; init; }
    /// <summary>What the provider charged for it, in its credits, when it says.</summary>
    public double? CreditCost { get; init; }
}

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
public sealed record BatchDeliveryProgress(string BatchId, long Total, IReadOnlyDictionary<DeliveryStatus, long> ByStatus)
{
    /// <summary>SMS parts of the batch's SMS, as counted when queued or as the provider reported them.</summary>
    public long SmsParts { get; init; }
    public double CreditCost { get; init; }
}

/// <summary>The SMS of one UTC day (by when they were queued): how many, how many parts, what they cost.</summary>
public sealed record SmsUsageDay(DateOnly Day, long Messages, long Parts, double CreditCost)
{
    /// <summary>Of those, the SMS sent as UCS-2 (a Telugu or Hindi letter makes the whole message so) and their parts.</summary>
    public long Ucs2Messages { get; init; }
    public long Ucs2Parts { get; init; }
}

/// <summary>
/// What a provider's delivery report or event says about one message. It is matched to its task by
/// <see cref="TaskId"/> when the provider echoes it, else by <see cref="ProviderMessageId"/>.
/// </summary>
/// <param name="ReceiptId">Names this report exactly (message and status): the same report twice is stored once.</param>
public sealed record ProviderReceipt(string Provider, string ReceiptId, DeliveryStatus Status, DateTimeOffset At)
{
    public string? ProviderMessageId { get; init; }
    public string? TaskId { get; init; }
    /// <summary>The provider's status or reason, as it said it ("FAILED.BLOCKED", "hard_bounce: user unknown").</summary>
    public string? Reason { get; init; }
    public int? SmsParts { get; init; }
    public SmsEncoding? SmsEncoding { get; init; }
    public double? CreditCost { get; init; }
}

public enum ReceiptOutcome
{
    /// <summary>Added to its task's timeline.</summary>
    Recorded,
    /// <summary>This very report was stored before; nothing changed.</summary>
    Duplicate,
    /// <summary>No task has this message: not ours, or the worker has not logged its send yet.</summary>
    UnknownMessage,
}

/// <param name="Task">The task the receipt belongs to (as it was before the receipt), when known.</param>
public sealed record ReceiptResult(ReceiptOutcome Outcome, DeliveryRecord? Task);

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

    /// <summary>
    /// Adds a provider's receipt to its task's timeline, once: the same <see cref="ProviderReceipt.ReceiptId"/>
    /// again changes nothing. The status moves by <see cref="DeliveryStatuses.Rank"/>, never backwards.
    /// </summary>
    Task<ReceiptResult> RecordReceiptAsync(ProviderReceipt receipt, CancellationToken cancellationToken = default);

    /// <summary>SMS per UTC day in [<paramref name="from"/>, <paramref name="to"/>), by queueing time, oldest day first; days without SMS are left out.</summary>
    Task<IReadOnlyList<SmsUsageDay>> GetSmsUsageAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default);
}
