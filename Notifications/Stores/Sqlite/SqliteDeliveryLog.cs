using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Notifications.Tasks;

namespace Notifications.Stores.Sqlite;

/// <summary>
/// The delivery log in two tables: <c>delivery_tasks</c> (one row per task, its current state) and
/// <c>delivery_events</c> (the timeline). An append updates both in one write transaction, so two
/// processes appending to the same task serialize on SQLite's write lock and neither loses an event.
/// </summary>
internal sealed class SqliteDeliveryLog(SqliteDocumentDatabase database, IOptions<DocumentStoreOptions> options, TimeProvider time) : IDeliveryLog
{
    private const int PruneChunk = 5_000;
    private const string TaskColumns =
        "task_id, status, channel, recipient, attempts, provider, provider_message_id, last_error, batch_id, submission_id, student_id, created_at, updated_at, sms_parts, credit_cost, sms_encoding";

    /// <summary><see cref="DeliveryStatuses.Rank"/> in SQL.</summary>
    private static string Rank(string status) =>
        $"(CASE {status} {string.Join(' ', DeliveryStatuses.Ranked.Select(r => $"WHEN '{r.Status}' THEN {r.Rank}"))} ELSE 0 END)";

    /// <summary>The statuses of <see cref="DeliveryStatuses.IsSuccess"/> as an SQL list.</summary>
    private static readonly string Successes = "(" + string.Join(", ", DeliveryStatuses.Successes.Select(s => $"'{s}'")) + ")";

    private static readonly string NewRank = Rank("excluded.status"), StoredRank = Rank("delivery_tasks.status");

    // The event that wins the provider fields and the error: of a higher rank, or of the same rank and as new or newer.
    private static readonly string Wins =
        $"({NewRank} > {StoredRank} OR ({NewRank} = {StoredRank} AND excluded.updated_at >= delivery_tasks.updated_at))";

    // The status: a higher rank wins whatever its time (a provider's outcome stays after a late "sent"); within a
    // rank the newer event (by time) wins, and of two as new the one written later, unless that is a Queued
    // event: a task is Queued first, so a Queued of the same instant as another event is never the news.
    // Provider fields take the winning event's value when it has one; a winning Sent or Delivered clears the last
    // error (a dead letter retried and sent shows its success, not its old failure); what identifies the task
    // (channel, recipient, batch, submission, student) keeps the first value seen; SMS parts and cost take the
    // latest value given (the provider's count replaces ours).
    private static readonly string TaskUpsertSql = $"""
        INSERT INTO delivery_tasks (task_id, status, channel, recipient, attempts, provider, provider_message_id, last_error,
                                    batch_id, submission_id, student_id, created_at, updated_at, sms_parts, credit_cost, sms_encoding)
        VALUES ($task_id, $status, $channel, $recipient, $attempt, $provider, $provider_message_id, $error,
                $batch_id, $submission_id, $student_id, $at, $at, $sms_parts, $credit_cost, $sms_encoding)
        ON CONFLICT (task_id) DO UPDATE SET
            status = CASE WHEN {NewRank} > {StoredRank} THEN excluded.status
                          WHEN {NewRank} < {StoredRank} THEN delivery_tasks.status
                          WHEN excluded.updated_at > delivery_tasks.updated_at
                               OR (excluded.updated_at = delivery_tasks.updated_at AND excluded.status <> 'Queued')
                          THEN excluded.status ELSE delivery_tasks.status END,
            attempts = max(delivery_tasks.attempts, excluded.attempts),
            provider = CASE WHEN excluded.provider IS NOT NULL AND (delivery_tasks.provider IS NULL OR {Wins})
                            THEN excluded.provider ELSE delivery_tasks.provider END,
            provider_message_id = CASE WHEN excluded.provider_message_id IS NOT NULL AND (delivery_tasks.provider_message_id IS NULL OR {Wins})
                            THEN excluded.provider_message_id ELSE delivery_tasks.provider_message_id END,
            last_error = CASE WHEN excluded.status IN {Successes} AND {Wins} THEN excluded.last_error
                              WHEN excluded.last_error IS NOT NULL AND ({Wins}
                                   OR (delivery_tasks.last_error IS NULL AND delivery_tasks.status NOT IN {Successes}))
                              THEN excluded.last_error ELSE delivery_tasks.last_error END,
            batch_id = coalesce(delivery_tasks.batch_id, excluded.batch_id),
            submission_id = coalesce(delivery_tasks.submission_id, excluded.submission_id),
            student_id = coalesce(delivery_tasks.student_id, excluded.student_id),
            created_at = min(delivery_tasks.created_at, excluded.created_at),
            updated_at = max(delivery_tasks.updated_at, excluded.updated_at),
            sms_parts = coalesce(excluded.sms_parts, delivery_tasks.sms_parts),
            sms_encoding = coalesce(excluded.sms_encoding, delivery_tasks.sms_encoding),
            credit_cost = coalesce(excluded.credit_cost, delivery_tasks.credit_cost);
        """;

    // OR IGNORE: a receipt already in the timeline (the unique receipt index) is not added twice.
    private const string EventInsertSql = """
        INSERT OR IGNORE INTO delivery_events (task_id, status, at, attempt, error, provider_message_id, receipt_id)
        VALUES ($task_id, $status, $at, $attempt, $error, $provider_message_id, $receipt_id);
        """;

    private static readonly string AppendSql = TaskUpsertSql + EventInsertSql;

    public Task AppendAsync(DeliveryEvent deliveryEvent, CancellationToken cancellationToken = default) =>
        WriteAsync([StoreInput.Event(deliveryEvent)], "delivery_log.append", cancellationToken);

    public Task AppendManyAsync(IReadOnlyCollection<DeliveryEvent> deliveryEvents, CancellationToken cancellationToken = default) =>
        WriteAsync([.. deliveryEvents.Select(StoreInput.Event)], "delivery_log.append_many", cancellationToken);

    /// <summary>One transaction for all the events.</summary>
    private async Task WriteAsync(IReadOnlyList<DeliveryEvent> inputs, string operation, CancellationToken cancellationToken)
    {
        if (inputs.Count == 0)
        {
            return;
        }
        using var activity = StoreTelemetry.StartSqlite(operation);
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction();
        using var append = AppendCommand(connection, transaction);
        foreach (var input in inputs)
        {
            Append(append, input);
        }
        transaction.Commit();
    }

    /// <summary>The append statement in <paramref name="transaction"/>, for <see cref="Append"/>; the outbox uses it for its Queued events.</summary>
    internal static SqliteCommand AppendCommand(SqliteConnection connection, SqliteTransaction transaction) => connection.Command(AppendSql, transaction);

    /// <summary>Appends one checked event (<see cref="StoreInput.Event"/>) with <paramref name="append"/>.</summary>
    internal static void Append(SqliteCommand append, DeliveryEvent input)
    {
        append.Parameters.Clear();
        Bind(append, input).ExecuteNonQuery();
    }

    /// <summary>The event's values as the parameters of <see cref="TaskUpsertSql"/> and <see cref="EventInsertSql"/>.</summary>
    private static SqliteCommand Bind(SqliteCommand command, DeliveryEvent e) =>
        command.With("$task_id", e.TaskId).With("$status", e.Status.ToString()).With("$channel", e.Channel.ToString())
            .With("$recipient", e.Recipient).With("$attempt", e.Attempt).With("$provider", e.Provider)
            .With("$provider_message_id", e.ProviderMessageId).With("$error", e.Error).With("$batch_id", e.BatchId)
            .With("$submission_id", e.SubmissionId).With("$student_id", e.StudentId).With("$at", e.At.ToStored())
            .With("$sms_parts", e.SmsParts).With("$credit_cost", e.CreditCost).With("$receipt_id", e.ReceiptId)
            .With("$sms_encoding", e.SmsEncoding?.ToString());

    public async Task<ReceiptResult> RecordReceiptAsync(ProviderReceipt receipt, CancellationToken cancellationToken = default)
    {
        var input = StoreInput.Receipt(receipt);
        using var activity = StoreTelemetry.StartSqlite("delivery_log.record_receipt");
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction();
        // The task the provider names; else the one it sent with this message id.
        using var find = connection.Command(input.TaskId is not null
                ? $"SELECT {TaskColumns} FROM delivery_tasks WHERE task_id = $task_id;"
                : $"SELECT {TaskColumns} FROM delivery_tasks WHERE provider_message_id = $provider_message_id AND provider = $provider LIMIT 1;",
                transaction)
            .With("$task_id", input.TaskId).With("$provider_message_id", input.ProviderMessageId).With("$provider", input.Provider);
        var task = (await ReadRecordsAsync(connection, transaction, find, cancellationToken, withTimeline: false).ConfigureAwait(false)).SingleOrDefault();
        if (task is null)
        {
            return new ReceiptResult(ReceiptOutcome.UnknownMessage, null);
        }

        var deliveryEvent = StoreInput.ReceiptEvent(input, task);
        // The event first: when the receipt is already in the timeline, nothing of the task changes either.
        using var insertEvent = connection.Command(EventInsertSql, transaction);
        Bind(insertEvent, deliveryEvent);
        if (insertEvent.ExecuteNonQuery() == 0)
        {
            return new ReceiptResult(ReceiptOutcome.Duplicate, task);
        }
        using var upsert = connection.Command(TaskUpsertSql, transaction);
        Bind(upsert, deliveryEvent);
        upsert.ExecuteNonQuery();
        transaction.Commit();
        return new ReceiptResult(ReceiptOutcome.Recorded, task);
    }

    public async Task<IReadOnlyList<SmsUsageDay>> GetSmsUsageAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        var (start, end) = StoreInput.UsageRange(from, to);
        using var activity = StoreTelemetry.StartSqlite("delivery_log.sms_usage");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // Through the created_at index; created_at is Unix milliseconds, so a UTC day is its integer division.
        using var select = connection.Command("""
            SELECT created_at / 86400000 AS day, count(*), coalesce(sum(sms_parts), 0), coalesce(sum(credit_cost), 0.0),
                   count(*) FILTER (WHERE sms_encoding = 'Ucs2'), coalesce(sum(sms_parts) FILTER (WHERE sms_encoding = 'Ucs2'), 0)
            FROM delivery_tasks WHERE created_at >= $from AND created_at < $to AND channel = 'Sms'
            GROUP BY day ORDER BY day;
            """).With("$from", start.ToStored()).With("$to", end.ToStored());
        var days = new List<SmsUsageDay>();
        using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            days.Add(new SmsUsageDay(DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + (int)reader.GetInt64(0)),
                reader.GetInt64(1), reader.GetInt64(2), Math.Round(reader.GetDouble(3), 4))
            {
                Ucs2Messages = reader.GetInt64(4),
                Ucs2Parts = reader.GetInt64(5),
            });
        }
        return days;
    }

    public async Task<DeliveryRecord> GetAsync(string taskId, CancellationToken cancellationToken = default)
    {
        var checkedTaskId = FieldValidation.Required(taskId, "taskId", FieldLimits.TaskId);
        using var activity = StoreTelemetry.StartSqlite("delivery_log.get");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction(deferred: true);
        using var select = connection.Command($"SELECT {TaskColumns} FROM delivery_tasks WHERE task_id = $task_id;", transaction).With("$task_id", checkedTaskId);
        return (await ReadRecordsAsync(connection, transaction, select, cancellationToken).ConfigureAwait(false)).SingleOrDefault()
            ?? throw new NotFoundException("delivery task", checkedTaskId);
    }

    public async Task<Page<DeliveryRecord>> QueryAsync(DeliveryQuery query, PageRequest page, CancellationToken cancellationToken = default)
    {
        var filter = StoreInput.Query(query);
        page.Validate();
        using var activity = StoreTelemetry.StartSqlite("delivery_log.query");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction(deferred: true);

        var where = new StringBuilder("WHERE 1 = 1");
        void Bind(SqliteCommand command)
        {
            command.With("$recipient", filter.Recipient).With("$batch_id", filter.BatchId).With("$student_id", filter.StudentId)
                .With("$status", filter.Status?.ToString())
                .With("$from", filter.From?.ToStored()).With("$to", filter.To?.ToStored());
        }
        if (filter.Recipient is not null) { where.Append(" AND recipient = $recipient"); }
        if (filter.BatchId is not null) { where.Append(" AND batch_id = $batch_id"); }
        // Not indexed: the Api asks for it only together with a recipient (a student's own list).
        if (filter.StudentId is not null) { where.Append(" AND student_id = $student_id"); }
        if (filter.Status is not null) { where.Append(" AND status = $status"); }
        if (filter.From is not null) { where.Append(" AND created_at >= $from"); }
        if (filter.To is not null) { where.Append(" AND created_at < $to"); }

        using var count = connection.Command($"SELECT count(*) FROM delivery_tasks {where};", transaction);
        Bind(count);
        var total = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;

        using var select = connection.Command($"SELECT {TaskColumns} FROM delivery_tasks {where} ORDER BY created_at DESC, task_id LIMIT $limit OFFSET $offset;", transaction)
            .With("$limit", page.Limit).With("$offset", page.Offset);
        Bind(select);
        var items = await ReadRecordsAsync(connection, transaction, select, cancellationToken).ConfigureAwait(false);
        return new Page<DeliveryRecord>(items, total, page.Offset, page.Limit);
    }

    public async Task<BatchDeliveryProgress> GetBatchProgressAsync(string batchId, CancellationToken cancellationToken = default)
    {
        var checkedBatchId = StoreInput.Id(batchId, "batchId");
        using var activity = StoreTelemetry.StartSqlite("delivery_log.batch_progress");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var select = connection.Command("""
            SELECT status, count(*), coalesce(sum(sms_parts), 0), coalesce(sum(credit_cost), 0.0)
            FROM delivery_tasks WHERE batch_id = $batch_id GROUP BY status;
            """).With("$batch_id", checkedBatchId);
        var counts = new List<KeyValuePair<DeliveryStatus, long>>();
        long parts = 0;
        double cost = 0;
        using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            counts.Add(new(Enum.Parse<DeliveryStatus>(reader.GetString(0)), reader.GetInt64(1)));
            parts += reader.GetInt64(2);
            cost += reader.GetDouble(3);
        }
        return new BatchDeliveryProgress(checkedBatchId, counts.Sum(c => c.Value), StoreInput.AllStatuses(counts))
        {
            SmsParts = parts,
            CreditCost = Math.Round(cost, 4),
        };
    }

    /// <summary>
    /// Deletes records whose latest event is older than <see cref="DocumentStoreOptions.DeliveryLogRetention"/>
    /// (MongoDB does this with a TTL index). Works in chunks so the write lock is never held for long.
    /// </summary>
    /// <remarks>
    /// Found through the created_at index: a task's updated_at is never before its created_at, so every
    /// expired task was also created before the cutoff, and an index on updated_at (which every event
    /// would have to update) is not needed.
    /// </remarks>
    /// <returns>How many task records were deleted.</returns>
    public async Task<int> PruneExpiredAsync(CancellationToken cancellationToken = default)
    {
        using var activity = StoreTelemetry.StartSqlite("delivery_log.prune");
        var cutoff = (time.GetUtcNow() - options.Value.DeliveryLogRetention).ToStored();
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        var deleted = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var transaction = connection.BeginTransaction();
            using var prune = connection.Command("""
                CREATE TEMP TABLE IF NOT EXISTS expired_tasks (task_id TEXT PRIMARY KEY);
                DELETE FROM expired_tasks;
                INSERT INTO expired_tasks SELECT task_id FROM delivery_tasks WHERE created_at < $cutoff AND updated_at < $cutoff LIMIT $chunk;
                DELETE FROM delivery_events WHERE task_id IN (SELECT task_id FROM expired_tasks);
                DELETE FROM delivery_tasks WHERE task_id IN (SELECT task_id FROM expired_tasks);
                """, transaction).With("$cutoff", cutoff).With("$chunk", PruneChunk);
            prune.ExecuteNonQuery();
            using var chunk = connection.Command("SELECT count(*) FROM expired_tasks;", transaction);
            var count = (int)(long)chunk.ExecuteScalar()!;
            transaction.Commit();
            deleted += count;
            if (count < PruneChunk)
            {
                return deleted;
            }
        }
    }

    private static async Task<List<DeliveryRecord>> ReadRecordsAsync(
        SqliteConnection connection, SqliteTransaction transaction, SqliteCommand selectTasks, CancellationToken cancellationToken, bool withTimeline = true)
    {
        var tasks = new List<DeliveryRecord>();
        using (var reader = await selectTasks.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                tasks.Add(new DeliveryRecord(
                    reader.GetString(0), Enum.Parse<DeliveryStatus>(reader.GetString(1)), Enum.Parse<NotificationType>(reader.GetString(2)),
                    reader.GetString(3), reader.GetInt32(4), reader.GetNullableString(5), reader.GetNullableString(6), reader.GetNullableString(7),
                    reader.GetNullableString(8), reader.GetNullableString(9), reader.GetNullableString(10), reader.GetTime(11), reader.GetTime(12), [])
                {
                    SmsParts = reader.IsDBNull(13) ? null : reader.GetInt32(13),
                    CreditCost = reader.IsDBNull(14) ? null : reader.GetDouble(14),
                    SmsEncoding = reader.IsDBNull(15) ? null : Enum.Parse<SmsEncoding>(reader.GetString(15)),
                });
            }
        }
        if (tasks.Count == 0 || !withTimeline)
        {
            return tasks;
        }

        var timelines = tasks.ToDictionary(t => t.TaskId, _ => new List<DeliveryTimelineEntry>(), StringComparer.Ordinal);
        using (var events = connection.Command("""
            SELECT task_id, status, at, attempt, error, provider_message_id FROM delivery_events
            WHERE task_id IN (SELECT value FROM json_each($ids)) ORDER BY task_id, at, id;
            """, transaction).WithJsonArray("$ids", timelines.Keys))
        using (var reader = await events.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                timelines[reader.GetString(0)].Add(new DeliveryTimelineEntry(
                    Enum.Parse<DeliveryStatus>(reader.GetString(1)), reader.GetTime(2), reader.GetInt32(3), reader.GetNullableString(4), reader.GetNullableString(5)));
            }
        }
        return tasks.Select(t => t with { Timeline = timelines[t.TaskId] }).ToList();
    }
}
