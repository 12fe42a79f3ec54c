using Microsoft.Data.Sqlite;

namespace Notifications.Stores.Sqlite;

internal sealed class SqliteStudentStore(SqliteDocumentDatabase database, TimeProvider time) : IStudentStore
{
    internal const string Columns = "id, roll_number, name, email, phone, batch_id, created_at, updated_at";

    public async Task<UpsertCounts> UpsertManyAsync(IReadOnlyCollection<StudentUpsert> students, NotificationsFor<Student>? welcome,
        CancellationToken cancellationToken)
    {
        var rows = StoreInput.Students(students);
        using var activity = StoreTelemetry.StartSqlite("students.upsert");
        activity?.SetTag("db.operation.batch.size", rows.Count);
        if (rows.Count == 0)
        {
            return new UpsertCounts(0, 0);
        }

        var at = FieldValidation.ToStoredPrecision(time.GetUtcNow());
        var now = at.ToStored();
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        // One transaction: the rows and their welcomes are stored whole or not at all, and one commit is far
        // faster than one per row.
        using var transaction = connection.BeginTransaction();
        using var upsert = connection.Command("""
            INSERT INTO students (id, roll_number, name, email, phone, batch_id, created_at, updated_at)
            VALUES ($id, $roll_number, $name, $email, $phone, $batch_id, $now, $now)
            ON CONFLICT (roll_number) DO UPDATE SET
                name = excluded.name, email = excluded.email, phone = excluded.phone,
                batch_id = excluded.batch_id, updated_at = excluded.updated_at
            RETURNING id;
            """, transaction);
        var id = upsert.Parameters.Add("$id", SqliteType.Text);
        var rollNumber = upsert.Parameters.Add("$roll_number", SqliteType.Text);
        var name = upsert.Parameters.Add("$name", SqliteType.Text);
        var email = upsert.Parameters.Add("$email", SqliteType.Text);
        var phone = upsert.Parameters.Add("$phone", SqliteType.Text);
        var batchId = upsert.Parameters.Add("$batch_id", SqliteType.Text);
        upsert.Parameters.AddWithValue("$now", now);
        upsert.Prepare();

        var inserted = new List<string>();
        var welcomes = new List<Queue.PreparedTask>();
        var updated = 0;
        foreach (var row in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var newId = RecordIds.New();
            id.Value = newId;
            rollNumber.Value = row.RollNumber;
            name.Value = row.Name;
            email.Value = row.Email;
            phone.Value = row.Phone;
            batchId.Value = (object?)row.BatchId ?? DBNull.Value;
            // RETURNING gives the existing row's id on conflict: a different id means the row was updated.
            if (upsert.ExecuteScalar() as string == newId)
            {
                inserted.Add(row.RollNumber);
                if (welcome is not null)
                {
                    welcomes.AddRange(welcome(new Student(newId, row.RollNumber, row.Name, row.Email, row.Phone, row.BatchId, at, at)));
                }
            }
            else
            {
                updated++;
            }
        }
        SqliteOutbox.Add(connection, transaction, welcomes, at);
        transaction.Commit();
        return new UpsertCounts(inserted.Count, updated) { InsertedRollNumbers = inserted, NotificationsStored = welcomes.Count };
    }

    public async Task<Page<Student>> ListAsync(PageRequest page, CancellationToken cancellationToken = default)
    {
        page.Validate();
        using var activity = StoreTelemetry.StartSqlite("students.list");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // A read transaction gives the page and the total from one snapshot.
        using var transaction = connection.BeginTransaction(deferred: true);
        using var count = connection.Command("SELECT count(*) FROM students;", transaction);
        var total = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        using var list = connection.Command($"SELECT {Columns} FROM students ORDER BY roll_number LIMIT $limit OFFSET $offset;", transaction)
            .With("$limit", page.Limit).With("$offset", page.Offset);
        var items = await ReadAllAsync(list, cancellationToken).ConfigureAwait(false);
        return new Page<Student>(items, total, page.Offset, page.Limit);
    }

    public async Task<Student> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var checkedId = StoreInput.Id(id);
        using var activity = StoreTelemetry.StartSqlite("students.get");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.Command($"SELECT {Columns} FROM students WHERE id = $id;").With("$id", checkedId);
        return (await ReadAllAsync(command, cancellationToken).ConfigureAwait(false)).SingleOrDefault()
            ?? throw new NotFoundException("student", checkedId);
    }

    public async Task<Student> GetByRollNumberAsync(string rollNumber, CancellationToken cancellationToken = default)
    {
        var checkedRollNumber = FieldValidation.Required(rollNumber, "rollNumber", FieldLimits.RollNumber);
        using var activity = StoreTelemetry.StartSqlite("students.get_by_roll_number");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.Command($"SELECT {Columns} FROM students WHERE roll_number = $roll_number;").With("$roll_number", checkedRollNumber);
        return (await ReadAllAsync(command, cancellationToken).ConfigureAwait(false)).SingleOrDefault()
            ?? throw new NotFoundException("student", checkedRollNumber);
    }

    public async Task<IReadOnlyList<Student>> GetManyAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken = default)
    {
        var checkedIds = FieldValidation.Ids(ids, "ids");
        if (checkedIds.Count == 0)
        {
            return [];
        }
        using var activity = StoreTelemetry.StartSqlite("students.get_many");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.Command($"SELECT {Columns} FROM students WHERE id IN (SELECT value FROM json_each($ids)) ORDER BY roll_number;")
            .WithJsonArray("$ids", checkedIds);
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<Student>> ListByBatchAsync(string batchId, CancellationToken cancellationToken = default)
    {
        var checkedBatchId = StoreInput.Id(batchId, "batchId");
        using var activity = StoreTelemetry.StartSqlite("students.list_by_batch");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.Command($"SELECT {Columns} FROM students WHERE batch_id = $batch_id ORDER BY roll_number;")
            .With("$batch_id", checkedBatchId);
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    internal static async Task<List<Student>> ReadAllAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var students = new List<Student>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            students.Add(new Student(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetNullableString(5), reader.GetTime(6), reader.GetTime(7)));
        }
        return students;
    }
}
