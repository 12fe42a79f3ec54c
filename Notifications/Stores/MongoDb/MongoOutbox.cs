using MongoDB.Driver;
using Notifications.Queue;

namespace Notifications.Stores.MongoDb;

/// <summary>
/// The outbox collection, <c>notification_outbox</c>: one document per waiting task, its id the task id. Task ids
/// are ULIDs, so <c>_id</c> order is the order the Api made the tasks in, which is about the order their
/// transactions committed (a transaction that ran longer may commit after a later one): the relay moves
/// notifications about in the order their actions were answered.
/// </summary>
internal sealed class MongoOutbox(MongoDocumentDatabase database) : INotificationOutbox
{
    private static readonly FilterDefinitionBuilder<OutboxDocument> s_filter = Builders<OutboxDocument>.Filter;

    /// <summary>Oldest first: ascending <c>_id</c>, the order of the ULID task ids.</summary>
    internal static readonly SortDefinition<OutboxDocument> OldestFirst = Builders<OutboxDocument>.Sort.Ascending(d => d.TaskId);

    /// <summary>
    /// Writes <paramref name="tasks"/> into the outbox, and each one's <c>Queued</c> delivery record, inside the
    /// caller's transaction (<paramref name="session"/>): they commit with the caller's records or not at all.
    /// </summary>
    internal static async Task AddAsync(MongoDocumentDatabase database, IClientSessionHandle session, IReadOnlyCollection<PreparedTask> tasks,
        DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (tasks.Count == 0)
        {
            return;
        }
        // Checked before anything is written.
        var queued = tasks.Select(t => StoreInput.Event(DeliveryEvent.Of(t.Task, DeliveryStatus.Queued, at))).ToList();
        var createdAt = at.UtcDateTime;
        var documents = tasks.Select(t => new OutboxDocument { TaskId = t.Task.Id, Body = t.Body, CreatedAt = createdAt }).ToList();
        await database.Outbox.InsertManyAsync(session, documents, new InsertManyOptions { IsOrdered = true }, cancellationToken).ConfigureAwait(false);
        await MongoDeliveryLog.AppendCheckedAsync(database, session, queued, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The entries <see cref="RemoveAsync"/> deletes: those whose task id is one of <paramref name="taskIds"/>.</summary>
    internal static FilterDefinition<OutboxDocument> BuildRemoveFilter(IReadOnlyCollection<string> taskIds) =>
        s_filter.In(d => d.TaskId, taskIds);

    public async Task<IReadOnlyList<OutboxEntry>> ReadOldestAsync(int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        var found = await database.Outbox.Find(s_filter.Empty).Sort(OldestFirst).Limit(max)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return found.ConvertAll(d => new OutboxEntry(d.TaskId, d.Body));
    }

    public async Task RemoveAsync(IReadOnlyCollection<string> taskIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(taskIds);
        if (taskIds.Count == 0)
        {
            return;
        }
        await database.Outbox.DeleteManyAsync(BuildRemoveFilter(taskIds), cancellationToken).ConfigureAwait(false);
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken = default) =>
        await database.Outbox.CountDocumentsAsync(s_filter.Empty, cancellationToken: cancellationToken).ConfigureAwait(false);
}
