using Microsoft.Data.Sqlite;
using Notifications.Queue;

namespace Notifications.Stores.Sqlite;

/// <summary>
/// The outbox table, <c>notification_outbox</c>: <c>seq</c> order is commit order within this one file, so the relay
/// moves notifications in the order their actions were answered.
/// </summary>
internal sealed class SqliteOutbox(SqliteDocumentDatabase database) : INotificationOutbox
{
    /// <summary>
    /// Writes <paramref name="tasks"/> into the outbox, and each one's <c>Queued</c> delivery record, inside the
    /// caller's transaction: they commit with the caller's records or not at all.
    /// </summary>
    public static void Add(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyCollection<PreparedTask> tasks, DateTimeOffset at)
    {
        if (tasks.Count == 0)
        {
            return;
        }
        using var insert = connection.Command("INSERT INTO notification_outbox (task_id, body, created_at) VALUES ($task_id, $body, $created_at);", transaction);
        var taskId = insert.Parameters.Add("$task_id", SqliteType.Text);
        var body = insert.Parameters.Add("$body", SqliteType.Blob);
        insert.Parameters.AddWithValue("$created_at", at.ToStored());
        using var queued = SqliteDeliveryLog.AppendCommand(connection, transaction);
        foreach (var prepared in tasks)
        {
            taskId.Value = prepared.Task.Id;
            body.Value = prepared.Body;
            insert.ExecuteNonQuery();
            SqliteDeliveryLog.Append(queued, StoreInput.Event(DeliveryEvent.Of(prepared.Task, DeliveryStatus.Queued, at)));
        }
    }

    public async Task<IReadOnlyList<OutboxEntry>> ReadOldestAsync(int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        using var activity = StoreTelemetry.StartSqlite("outbox.read");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var select = connection.Command("SELECT task_id, body FROM notification_outbox ORDER BY seq LIMIT $max;").With("$max", max);
        var entries = new List<OutboxEntry>();
        using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            entries.Add(new OutboxEntry(reader.GetString(0), (byte[])reader.GetValue(1)));
        }
        return entries;
    }

    public async Task RemoveAsync(IReadOnlyCollection<string> taskIds, CancellationToken cancellationToken = default)
    {
        if (taskIds.Count == 0)
        {
            return;
        }
        using var activity = StoreTelemetry.StartSqlite("outbox.remove");
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        using var delete = connection.Command("DELETE FROM notification_outbox WHERE task_id IN (SELECT value FROM json_each($ids));")
            .WithJsonArray("$ids", taskIds);
        await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var count = connection.Command("SELECT count(*) FROM notification_outbox;");
        return (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
