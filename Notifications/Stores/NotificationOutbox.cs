using Notifications.Queue;

namespace Notifications.Stores;

/// <summary>One notification waiting in the outbox: its task id and the task body the Api prepared.</summary>
public sealed record OutboxEntry(string TaskId, byte[] Body);

/// <summary>
/// The transactional outbox: the notifications an action causes, stored in the same transaction as the action
/// (students and their welcomes, a batch's new members and their notices, a submission and its confirmation),
/// each with its <c>Queued</c> delivery record. The Api's outbox relay moves them into the Redis queue and then
/// removes them here; a crash between the two moves them again, and the queue's idempotency keys add them once.
/// </summary>
/// <remarks>
/// Not the local mail outbox of <c>Notifications.Outbox</c>, where the development sender writes the
/// messages it would have sent.
/// </remarks>
public interface INotificationOutbox
{
    /// <summary>The oldest waiting entries, in the order their transactions committed.</summary>
    Task<IReadOnlyList<OutboxEntry>> ReadOldestAsync(int max, CancellationToken cancellationToken = default);

    /// <summary>Removes entries that are in the queue now; ids that are not here are ignored.</summary>
    Task RemoveAsync(IReadOnlyCollection<string> taskIds, CancellationToken cancellationToken = default);

    /// <summary>How many notifications wait to be moved (the dashboard's outbox depth).</summary>
    Task<long> CountAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// Builds the notifications a created record causes. A store calls it inside the transaction that creates the
/// record, so what it returns is stored in the outbox with the record, or neither is stored.
/// </summary>
public delegate IReadOnlyList<PreparedTask> NotificationsFor<in T>(T created);
