using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Notifications.Stores.Sqlite;

internal sealed class SqliteFormSubmissionStore(SqliteDocumentDatabase database, TimeProvider time) : IFormSubmissionStore
{
    private const string Columns = "id, form_id, student_id, roll_number, answers, status, submitted_at";
    private const string InsertSql =
        $"INSERT INTO form_submissions ({Columns}) VALUES ($id, $form_id, $student_id, $roll_number, $answers, $status, $submitted_at);";

    public async Task<IReadOnlyList<FormSubmission>> CreateManyAsync(IReadOnlyList<NewSubmission> submissions,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(submissions);
        var now = time.GetUtcNow();
        var created = new FormSubmission[submissions.Count];
        var answers = new string[submissions.Count];
        for (var i = 0; i < created.Length; i++)
        {
            var input = StoreInput.Submission(submissions[i], now);
            created[i] = new FormSubmission(input.Id!, input.FormId, input.StudentId, input.RollNumber, input.Answers, input.Status, input.SubmittedAt!.Value);
            answers[i] = JsonSerializer.Serialize(created[i].Answers);
        }
        if (created.Length == 0)
        {
            return created;
        }
        using var activity = StoreTelemetry.StartSqlite("form_submissions.create");
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction();
        foreach (var formId in created.Select(s => s.FormId).Distinct(StringComparer.Ordinal))
        {
            if (!await connection.ExistsAsync("forms", formId, transaction, cancellationToken).ConfigureAwait(false))
            {
                throw new NotFoundException("form", formId);
            }
        }
        using var insert = connection.Command(InsertSql, transaction);
        try
        {
            for (var i = 0; i < created.Length; i++)
            {
                insert.Parameters.Clear();
                insert.With("$id", created[i].Id).With("$form_id", created[i].FormId).With("$student_id", created[i].StudentId)
                    .With("$roll_number", created[i].RollNumber).With("$answers", answers[i])
                    .With("$status", created[i].Status).With("$submitted_at", created[i].SubmittedAt.ToStored())
                    .ExecuteNonQuery();
            }
        }
        catch (SqliteException ex) when (ex.IsUniqueViolation())
        {
            throw StoreInput.SubmissionIdsTaken(submissions, ex);
        }
        // Each submission's confirmation commits with it: an answered submission is never without its notifications.
        SqliteOutbox.Add(connection, transaction, [.. submissions.SelectMany(s => s.Notifications ?? [])], now);
        transaction.Commit();
        return created;
    }

    public async Task<FormSubmission> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var checkedId = StoreInput.Id(id);
        using var activity = StoreTelemetry.StartSqlite("form_submissions.get");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var select = connection.Command($"SELECT {Columns} FROM form_submissions WHERE id = $id;").With("$id", checkedId);
        using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : throw new NotFoundException("form submission", checkedId);
    }

    public async Task<Page<FormSubmission>> ListByFormAsync(string formId, PageRequest page, CancellationToken cancellationToken = default)
    {
        var checkedFormId = StoreInput.Id(formId, "formId");
        page.Validate();
        using var activity = StoreTelemetry.StartSqlite("form_submissions.list_by_form");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction(deferred: true);
        using var count = connection.Command("SELECT count(*) FROM form_submissions WHERE form_id = $form_id;", transaction).With("$form_id", checkedFormId);
        var total = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        using var list = connection.Command($"""
            SELECT {Columns} FROM form_submissions WHERE form_id = $form_id
            ORDER BY submitted_at DESC, id DESC LIMIT $limit OFFSET $offset;
            """, transaction)
            .With("$form_id", checkedFormId).With("$limit", page.Limit).With("$offset", page.Offset);
        var items = new List<FormSubmission>();
        using var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(Read(reader));
        }
        return new Page<FormSubmission>(items, total, page.Offset, page.Limit);
    }

    private static FormSubmission Read(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
            JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(4)) ?? [], reader.GetString(5), reader.GetTime(6));

    public async Task<FormAnalytics> GetAnalyticsAsync(string formId, CancellationToken cancellationToken = default)
    {
        var checkedFormId = StoreInput.Id(formId, "formId");
        using var activity = StoreTelemetry.StartSqlite("form_submissions.analytics");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction(deferred: true);
        if (!await connection.ExistsAsync("forms", checkedFormId, transaction, cancellationToken).ConfigureAwait(false))
        {
            throw new NotFoundException("form", checkedFormId);
        }

        var perDay = new List<DailyCount>();
        using (var byDay = connection.Command("""
            SELECT strftime('%Y-%m-%d', submitted_at / 1000, 'unixepoch') AS day, count(*)
            FROM form_submissions WHERE form_id = $form_id GROUP BY day ORDER BY day;
            """, transaction).With("$form_id", checkedFormId))
        using (var reader = await byDay.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                perDay.Add(new DailyCount(DateOnly.ParseExact(reader.GetString(0), "yyyy-MM-dd", CultureInfo.InvariantCulture), reader.GetInt64(1)));
            }
        }

        var perStatus = new Dictionary<string, long>(StringComparer.Ordinal);
        using (var byStatus = connection.Command("SELECT status, count(*) FROM form_submissions WHERE form_id = $form_id GROUP BY status;", transaction)
            .With("$form_id", checkedFormId))
        using (var reader = await byStatus.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                perStatus[reader.GetString(0)] = reader.GetInt64(1);
            }
        }
        return new FormAnalytics(checkedFormId, perStatus.Values.Sum(), perDay, perStatus);
    }
}
