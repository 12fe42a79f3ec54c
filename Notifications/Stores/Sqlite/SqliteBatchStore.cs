using Microsoft.Data.Sqlite;

namespace Notifications.Stores.Sqlite;

internal sealed class SqliteBatchStore(SqliteDocumentDatabase database, TimeProvider time) : IBatchStore
{
    public async Task<BatchChange> CreateAsync(NewBatch batch, NotificationsFor<BatchMember>? notice, CancellationToken cancellationToken)
    {
        var (name, studentIds) = StoreInput.Batch(batch);
        using var activity = StoreTelemetry.StartSqlite("batches.create");
        var id = RecordIds.New();
        var createdAt = FieldValidation.ToStoredPrecision(time.GetUtcNow());
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction();
        await ThrowIfAnyStudentUnknownAsync(connection, transaction, studentIds, cancellationToken).ConfigureAwait(false);
        using var insert = connection.Command("INSERT INTO batches (id, name, created_at) VALUES ($id, $name, $created_at);", transaction)
            .With("$id", id).With("$name", name).With("$created_at", createdAt.ToStored());
        try
        {
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex) when (ex.IsUniqueViolation())
        {
            throw new DuplicateKeyException("batch", "name", name, ex);
        }
        await AddMembersAsync(connection, transaction, id, studentIds, cancellationToken).ConfigureAwait(false);
        var created = new Batch(id, name, createdAt, studentIds);
        var notified = await StoreNoticesAsync(connection, transaction, created, studentIds, notice, cancellationToken).ConfigureAwait(false);
        transaction.Commit();
        return new BatchChange(created, studentIds, notified);
    }

    public async Task<BatchChange> AddStudentsAsync(string batchId, IReadOnlyCollection<string> studentIds, NotificationsFor<BatchMember>? notice,
        CancellationToken cancellationToken)
    {
        var checkedBatchId = StoreInput.Id(batchId, "batchId");
        var checkedStudentIds = FieldValidation.Ids(studentIds, "studentIds");
        using var activity = StoreTelemetry.StartSqlite("batches.add_students");
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction();
        if (!await connection.ExistsAsync("batches", checkedBatchId, transaction, cancellationToken).ConfigureAwait(false))
        {
            throw new NotFoundException("batch", checkedBatchId);
        }
        await ThrowIfAnyStudentUnknownAsync(connection, transaction, checkedStudentIds, cancellationToken).ConfigureAwait(false);
        var before = (await ReadBatchesAsync(connection, transaction, "WHERE id = $id", c => c.With("$id", checkedBatchId), cancellationToken).ConfigureAwait(false)).Single();
        await AddMembersAsync(connection, transaction, checkedBatchId, checkedStudentIds, cancellationToken).ConfigureAwait(false);
        var batch = (await ReadBatchesAsync(connection, transaction, "WHERE id = $id", c => c.With("$id", checkedBatchId), cancellationToken).ConfigureAwait(false)).Single();
        // Read in the write transaction: a student another request added at the same time is added (and noticed) once.
        var alreadyIn = before.StudentIds.ToHashSet(StringComparer.Ordinal);
        var added = batch.StudentIds.Where(s => !alreadyIn.Contains(s)).ToList();
        var notified = await StoreNoticesAsync(connection, transaction, batch, added, notice, cancellationToken).ConfigureAwait(false);
        transaction.Commit();
        return new BatchChange(batch, added, notified);
    }

    /// <summary>Stores in the outbox, in the batch's transaction, the notices <paramref name="notice"/> builds for the students just added.</summary>
    private async Task<IReadOnlyList<string>> StoreNoticesAsync(SqliteConnection connection, SqliteTransaction transaction, Batch batch,
        IReadOnlyList<string> added, NotificationsFor<BatchMember>? notice, CancellationToken cancellationToken)
    {
        if (notice is null || added.Count == 0)
        {
            return [];
        }
        var notices = new List<Queue.PreparedTask>(added.Count * 2);
        using var select = connection.Command(
            $"SELECT {SqliteStudentStore.Columns} FROM students WHERE id IN (SELECT value FROM json_each($ids)) ORDER BY roll_number;", transaction)
            .WithJsonArray("$ids", added);
        foreach (var student in await SqliteStudentStore.ReadAllAsync(select, cancellationToken).ConfigureAwait(false))
        {
            notices.AddRange(notice(new BatchMember(batch, student)));
        }
        SqliteOutbox.Add(connection, transaction, notices, time.GetUtcNow());
        return [.. notices.Select(n => n.Task.Id)];
    }

    public async Task<Page<Batch>> ListAsync(PageRequest page, CancellationToken cancellationToken = default)
    {
        page.Validate();
        using var activity = StoreTelemetry.StartSqlite("batches.list");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction(deferred: true);
        using var count = connection.Command("SELECT count(*) FROM batches;", transaction);
        var total = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        var items = await ReadBatchesAsync(connection, transaction, "ORDER BY created_at DESC, id DESC LIMIT $limit OFFSET $offset",
            c => c.With("$limit", page.Limit).With("$offset", page.Offset), cancellationToken).ConfigureAwait(false);
        return new Page<Batch>(items, total, page.Offset, page.Limit);
    }

    public async Task<Batch> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var checkedId = StoreInput.Id(id);
        using var activity = StoreTelemetry.StartSqlite("batches.get");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction(deferred: true);
        return (await ReadBatchesAsync(connection, transaction, "WHERE id = $id", c => c.With("$id", checkedId), cancellationToken).ConfigureAwait(false)).SingleOrDefault()
            ?? throw new NotFoundException("batch", checkedId);
    }

    private static async Task ThrowIfAnyStudentUnknownAsync(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<string> studentIds, CancellationToken cancellationToken)
    {
        if (studentIds.Count == 0)
        {
            return;
        }
        using var missing = connection.Command("SELECT value FROM json_each($ids) WHERE value NOT IN (SELECT id FROM students) LIMIT 1;", transaction)
            .WithJsonArray("$ids", studentIds);
        if (await missing.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string unknown)
        {
            throw new NotFoundException("student", unknown);
        }
    }

    private static async Task AddMembersAsync(SqliteConnection connection, SqliteTransaction transaction, string batchId, IReadOnlyList<string> studentIds, CancellationToken cancellationToken)
    {
        if (studentIds.Count == 0)
        {
            return;
        }
        using var insert = connection.Command("""
            INSERT OR IGNORE INTO batch_students (batch_id, student_id)
            SELECT $batch_id, value FROM json_each($ids) ORDER BY key;
            """, transaction)
            .With("$batch_id", batchId).WithJsonArray("$ids", studentIds);
        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<Batch>> ReadBatchesAsync(
        SqliteConnection connection, SqliteTransaction transaction, string whereAndOrder, Action<SqliteCommand> bind, CancellationToken cancellationToken)
    {
        var rows = new List<(string Id, string Name, DateTimeOffset CreatedAt)>();
        using (var select = connection.Command($"SELECT id, name, created_at FROM batches {whereAndOrder};", transaction))
        {
            bind(select);
            using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add((reader.GetString(0), reader.GetString(1), reader.GetTime(2)));
            }
        }
        if (rows.Count == 0)
        {
            return [];
        }

        var members = rows.ToDictionary(r => r.Id, _ => new List<string>(), StringComparer.Ordinal);
        using (var select = connection.Command("""
            SELECT batch_id, student_id FROM batch_students
            WHERE batch_id IN (SELECT value FROM json_each($ids)) ORDER BY rowid;
            """, transaction).WithJsonArray("$ids", members.Keys))
        {
            using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                members[reader.GetString(0)].Add(reader.GetString(1));
            }
        }
        return rows.Select(r => new Batch(r.Id, r.Name, r.CreatedAt, members[r.Id])).ToList();
    }
}
