using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Notifications.Stores.Sqlite;

internal sealed class SqliteFormSubmissionStore(SqliteDocumentDatabase database, TimeProvider time) : IFormSubmissionStore
{
    private const string Columns = "id, form_id, student_id, roll_number, answers, status, submitted_at";
    private const string InsertSql =
        $"INSERT INTO form_submissions ({Columns}) VALUES ($id, $form_id, $student_id, $roll_number, $answers, $status, $submitted_at);";

    public async Task<FormSubmission> CreateAsync(NewSubmission submission, CancellationToken cancellationToken = default)
    {
        var input = StoreInput.Submission(submission, time.GetUtcNow());
        using var activity = StoreTelemetry.StartSqlite("form_submissions.create");
        var created = new FormSubmission(RecordIds.New(), input.FormId, input.StudentId, input.RollNumber, input.Answers, input.Status, input.SubmittedAt!.Value);
        var answers = JsonSerializer.Serialize(created.Answers);
        // Group commit: under load one transaction stores the submissions of many requests.
        await database.WriteInGroupAsync(writes =>
        {
            if (writes.Command("SELECT 1 FROM forms WHERE id = $id;").With("$id", created.FormId).ExecuteScalar() is null)
            {
                throw new NotFoundException("form", created.FormId);
            }
            return writes.Command(InsertSql)
                .With("$id", created.Id).With("$form_id", created.FormId).With("$student_id", created.StudentId)
                .With("$roll_number", created.RollNumber).With("$answers", answers)
                .With("$status", created.Status).With("$submitted_at", created.SubmittedAt.ToStored())
                .ExecuteNonQuery();
        }, cancellationToken).ConfigureAwait(false);
        return created;
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
            var answers = JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(4)) ?? [];
            items.Add(new FormSubmission(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), answers, reader.GetString(5), reader.GetTime(6)));
        }
        return new Page<FormSubmission>(items, total, page.Offset, page.Limit);
    }

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
