using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Notifications.Stores;
using Notifications.Stores.Sqlite;
using Notifications.Tasks;

namespace Notifications.Tests.Stores.Sqlite;

/// <summary>
/// What only the SQLite store does: the file's journal mode and schema moves, its indexes, pruning in place of a TTL index, per-connection
/// settings that survive pooling, and group commit of small writes.
/// </summary>
public sealed class SqliteStoreTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Schema_PutsTheFileInWalMode_SoTwoProcessesCanShareIt()
    {
        var file = StoreHarness.NewSqliteFile();
        await using var stores = await StoreHarness.StartSqliteAsync(file);

        // A fresh connection outside the store's pool reads what is recorded in the file itself.
        await using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
        await connection.OpenAsync(Ct);
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";

        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task Schema_KeepsExistingRows_WhenASecondHostStartsOnTheSameFile()
    {
        var file = StoreHarness.NewSqliteFile();
        await using var first = await StoreHarness.StartSqliteAsync(file);
        await first.Students.UpsertManyAsync([new StudentUpsert("R1", "Asha", "asha@example.org", "+919876543210")], Ct);

        await using var second = await StoreHarness.StartSqliteAsync(file);

        Assert.Equal("Asha", (await second.Students.GetByRollNumberAsync("R1", Ct)).Name);
    }

    [Fact]
    public async Task Schema_MovesAVersion1File_ToFewerDeliveryIndexes_AndKeepsItsRows()
    {
        var file = StoreHarness.NewSqliteFile();
        await using (var old = new SqliteConnection($"Data Source={file};Pooling=False"))
        {
            await old.OpenAsync(Ct);
            using var command = old.CreateCommand();
            // The delivery table and indexes as schema 1 made them, with one task in it (recent: the pruner runs at start).
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            command.CommandText = $"""
                CREATE TABLE delivery_tasks (task_id TEXT PRIMARY KEY, status TEXT NOT NULL, channel TEXT NOT NULL, recipient TEXT NOT NULL,
                    attempts INTEGER NOT NULL, provider TEXT NULL, provider_message_id TEXT NULL, last_error TEXT NULL, batch_id TEXT NULL,
                    submission_id TEXT NULL, student_id TEXT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                CREATE INDEX ix_delivery_tasks_recipient ON delivery_tasks (recipient, created_at);
                CREATE INDEX ix_delivery_tasks_batch ON delivery_tasks (batch_id, status);
                CREATE INDEX ix_delivery_tasks_status ON delivery_tasks (status, created_at);
                CREATE INDEX ix_delivery_tasks_created_at ON delivery_tasks (created_at);
                CREATE INDEX ix_delivery_tasks_updated_at ON delivery_tasks (updated_at);
                INSERT INTO delivery_tasks VALUES ('t1', 'Queued', 'Email', 'a@example.org', 0, NULL, NULL, NULL, 'b1', NULL, NULL, {now}, {now});
                PRAGMA user_version = 1;
                """;
            await command.ExecuteNonQueryAsync(Ct);
        }

        await using var stores = await StoreHarness.StartSqliteAsync(file);

        Assert.Equal(["ix_delivery_tasks_batch_status", "ix_delivery_tasks_created_at", "ix_delivery_tasks_recipient", "ix_delivery_tasks_status"],
            await QueryStringsAsync(file, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'delivery_tasks' AND sql IS NOT NULL ORDER BY name;"));
        Assert.Equal(["2"], await QueryStringsAsync(file, "PRAGMA user_version;"));
        Assert.Equal(1, (await stores.DeliveryLog.GetBatchProgressAsync("b1", Ct)).Total);
    }

    [Theory]
    // The statements as the store runs them, with bound parameters: SQLite must see that batch_id = $batch_id cannot be NULL.
    [InlineData("SELECT status, count(*) FROM delivery_tasks WHERE batch_id = $batch_id GROUP BY status;", "ix_delivery_tasks_batch_status")]
    [InlineData("SELECT task_id FROM delivery_tasks WHERE created_at < $cutoff AND updated_at < $cutoff LIMIT $chunk;", "ix_delivery_tasks_created_at")]
    public async Task Schema_ServesBatchProgressAndPruning_FromAnIndex(string query, string index)
    {
        var file = StoreHarness.NewSqliteFile();
        await using var stores = await StoreHarness.StartSqliteAsync(file);

        // The batch index leaves out tasks without a batch and pruning has no updated_at index: both must still search, not scan.
        var plan = string.Join("\n", await QueryStringsAsync(file, "EXPLAIN QUERY PLAN " + query, column: 3,
            parameters: new() { ["$batch_id"] = "b1", ["$cutoff"] = 5L, ["$chunk"] = 10L }));

        Assert.Contains("INDEX " + index, plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prune_DeletesRecordsWhoseLatestEventIsPastRetention()
    {
        await using var stores = await StoreHarness.StartSqliteAsync(settings: new Dictionary<string, string?> { ["DocumentStore:DeliveryLogRetention"] = "01:00:00" });
        var now = DateTimeOffset.UtcNow;
        var log = stores.DeliveryLog;
        await log.AppendAsync(new DeliveryEvent("old", DeliveryStatus.Queued, now.AddHours(-3), NotificationType.Email, "a@example.org"), Ct);
        await log.AppendAsync(new DeliveryEvent("old", DeliveryStatus.Dead, now.AddHours(-2), NotificationType.Email, "a@example.org"), Ct);
        // Created long ago but still active: retention counts from the latest event.
        await log.AppendAsync(new DeliveryEvent("active", DeliveryStatus.Queued, now.AddHours(-3), NotificationType.Email, "a@example.org"), Ct);
        await log.AppendAsync(new DeliveryEvent("active", DeliveryStatus.Retrying, now.AddMinutes(-5), NotificationType.Email, "a@example.org"), Ct);

        var deleted = await stores.Services.GetRequiredService<SqliteDeliveryLog>().PruneExpiredAsync(Ct);

        // The host's pruner also runs once at start, and may have run after the appends: the state below is the proof.
        Assert.InRange(deleted, 0, 1);
        await Assert.ThrowsAsync<NotFoundException>(() => log.GetAsync("old", Ct));
        Assert.Equal(2, (await log.GetAsync("active", Ct)).Timeline.Count);
        var file = stores.Services.GetRequiredService<SqliteDocumentDatabase>().FilePath;
        await using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
        await connection.OpenAsync(Ct);
        using var orphans = connection.CreateCommand();
        orphans.CommandText = "SELECT count(*) FROM delivery_events WHERE task_id = 'old';";
        Assert.Equal(0L, (long)(await orphans.ExecuteScalarAsync(Ct))!);
    }

    [Fact]
    public async Task PooledConnections_KeepTheirSettings_WhenOpenedAgain()
    {
        await using var stores = await StoreHarness.StartSqliteAsync(settings: new Dictionary<string, string?> { ["DocumentStore:SqliteBusyTimeout"] = "00:00:07" });
        var database = stores.Services.GetRequiredService<SqliteDocumentDatabase>();

        // The settings are applied once per native connection; the pool hands the same one out again.
        for (var open = 0; open < 3; open++)
        {
            await using var connection = await database.OpenAsync(Ct);
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA busy_timeout;";
            Assert.Equal(7000L, (long)(await command.ExecuteScalarAsync(Ct))!);
            command.CommandText = "PRAGMA synchronous;";
            Assert.Equal(1L, (long)(await command.ExecuteScalarAsync(Ct))!); // NORMAL
        }
    }

    [Fact]
    public async Task GroupCommit_StoresEveryWriteOfAGroup_AndFailsOnlyTheWriteThatThrew()
    {
        await using var stores = await StoreHarness.StartSqliteAsync();
        var database = stores.Services.GetRequiredService<SqliteDocumentDatabase>();
        var student = await SeedStudentAsync(stores);
        var form = await stores.Forms.CreateAsync(new NewForm("Feedback", true, [new FormField("comment", "Comment")]), Ct);

        Task<FormSubmission>[] valid;
        Task<FormSubmission> unknownForm;
        // While this connection holds the process's write turn, the writes queue up and then commit as one group.
        await using (await database.OpenForWritingAsync(Ct))
        {
            valid = [.. Enumerable.Range(0, 50).Select(i => stores.Submissions.CreateAsync(
                new NewSubmission(form.Id, student.Id, student.RollNumber, new Dictionary<string, string> { ["comment"] = $"answer {i}" }), Ct))];
            unknownForm = stores.Submissions.CreateAsync(new NewSubmission("no-such-form", student.Id, student.RollNumber, new Dictionary<string, string>()), Ct);
            await Task.Delay(100, Ct);
            Assert.All(valid, write => Assert.False(write.IsCompleted));
        }

        var stored = await Task.WhenAll(valid);
        await Assert.ThrowsAsync<NotFoundException>(() => unknownForm);
        var page = await stores.Submissions.ListByFormAsync(form.Id, new PageRequest(0, 100), Ct);
        Assert.Equal(50, page.Total);
        Assert.Equal(stored.Select(s => s.Id).Order(), page.Items.Select(s => s.Id).Order());
    }

    [Fact]
    public async Task GroupCommit_AnswersACallerWhoGivesUpAtOnce_AndNeverRunsItsWrite()
    {
        await using var stores = await StoreHarness.StartSqliteAsync();
        var database = stores.Services.GetRequiredService<SqliteDocumentDatabase>();
        using var giveUp = new CancellationTokenSource();
        var writes = 0;

        Task<int> first, write;
        await using (await database.OpenForWritingAsync(Ct))
        {
            // The writer takes the first write it finds and waits for the turn with it; the second waits in line.
            first = database.WriteInGroupAsync(_ => Interlocked.Increment(ref writes), Ct);
            await Task.Delay(50, Ct);
            write = database.WriteInGroupAsync(_ => Interlocked.Increment(ref writes), giveUp.Token);
            giveUp.Cancel();
            // Answered at once, while the write turn is still held and its group has not started.
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write.WaitAsync(TimeSpan.FromSeconds(5), Ct));
            Assert.False(first.IsCompleted);
        }

        await first;
        Assert.Equal(1, writes);
    }

    private static async Task<List<string>> QueryStringsAsync(string file, string sql, int column = 0, Dictionary<string, object>? parameters = null)
    {
        await using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
        await connection.OpenAsync(Ct);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters ?? [])
        {
            if (sql.Contains(name, StringComparison.Ordinal))
            {
                command.Parameters.AddWithValue(name, value);
            }
        }
        var values = new List<string>();
        using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            values.Add(Convert.ToString(reader.GetValue(column), System.Globalization.CultureInfo.InvariantCulture)!);
        }
        return values;
    }

    private static async Task<Student> SeedStudentAsync(StoreHarness stores)
    {
        await stores.Students.UpsertManyAsync([new StudentUpsert("R1", "Asha", "asha@example.org", "+919876543210")], Ct);
        return await stores.Students.GetByRollNumberAsync("R1", Ct);
    }
}
