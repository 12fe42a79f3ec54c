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
    public async Task Schema_MovesAVersion1File_ToFewerDeliveryIndexes_AnOutbox_AndTheReceiptColumns_AndKeepsItsRows()
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

        Assert.Equal(["ix_delivery_tasks_batch_status", "ix_delivery_tasks_created_at", "ix_delivery_tasks_provider_message", "ix_delivery_tasks_recipient",
                "ix_delivery_tasks_status"],
            await QueryStringsAsync(file, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'delivery_tasks' AND sql IS NOT NULL ORDER BY name;"));
        Assert.Equal(["4"], await QueryStringsAsync(file, "PRAGMA user_version;"));
        Assert.Equal(["0"], await QueryStringsAsync(file, "SELECT count(*) FROM notification_outbox;"));
        Assert.Equal(1, (await stores.DeliveryLog.GetBatchProgressAsync("b1", Ct)).Total);
        // The old task takes a receipt: the columns schema 4 added are there.
        await stores.DeliveryLog.AppendAsync(new DeliveryEvent("t1", DeliveryStatus.Sent, DateTimeOffset.UtcNow, NotificationType.Email, "a@example.org")
        {
            Provider = "brevo", ProviderMessageId = "m1",
        }, Ct);
        var receipt = await stores.DeliveryLog.RecordReceiptAsync(new ProviderReceipt("brevo", "m1:delivered:1", DeliveryStatus.Delivered, DateTimeOffset.UtcNow)
        {
            ProviderMessageId = "m1", CreditCost = 1,
        }, Ct);
        Assert.Equal(ReceiptOutcome.Recorded, receipt.Outcome);
        Assert.Equal((DeliveryStatus.Delivered, 1.0), ((await stores.DeliveryLog.GetAsync("t1", Ct)).Status, (await stores.DeliveryLog.GetAsync("t1", Ct)).CreditCost));

        // A second start (another process) finds the columns and adds nothing.
        await using var again = await StoreHarness.StartSqliteAsync(file);
        Assert.Equal(DeliveryStatus.Delivered, (await again.DeliveryLog.GetAsync("t1", Ct)).Status);
    }

    [Theory]
    // The statements as the store runs them, with bound parameters: SQLite must see that batch_id = $batch_id cannot be NULL.
    [InlineData("SELECT status, count(*), coalesce(sum(sms_parts), 0) FROM delivery_tasks WHERE batch_id = $batch_id GROUP BY status;", "ix_delivery_tasks_batch_status")]
    [InlineData("SELECT task_id FROM delivery_tasks WHERE provider_message_id = $provider_message_id AND provider = $provider LIMIT 1;", "ix_delivery_tasks_provider_message")]
    [InlineData("SELECT created_at / 86400000 AS day, count(*) FROM delivery_tasks WHERE created_at >= $from AND created_at < $to AND channel = 'Sms' GROUP BY day;", "ix_delivery_tasks_created_at")]
    [InlineData("SELECT task_id FROM delivery_tasks WHERE created_at < $cutoff AND updated_at < $cutoff LIMIT $chunk;", "ix_delivery_tasks_created_at")]
    public async Task Schema_ServesBatchProgressAndPruning_FromAnIndex(string query, string index)
    {
        var file = StoreHarness.NewSqliteFile();
        await using var stores = await StoreHarness.StartSqliteAsync(file);

        // The batch index leaves out tasks without a batch and pruning has no updated_at index: both must still search, not scan.
        var plan = string.Join("\n", await QueryStringsAsync(file, "EXPLAIN QUERY PLAN " + query, column: 3,
            parameters: new()
            {
                ["$batch_id"] = "b1", ["$cutoff"] = 5L, ["$chunk"] = 10L, ["$provider_message_id"] = "m1", ["$provider"] = "bulksms", ["$from"] = 1L, ["$to"] = 2L,
            }));

        Assert.Contains("INDEX " + index, plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prune_DeletesRecordsWhoseLatestEventIsPastRetention()
    {
        await using var stores = await StoreHarness.StartSqliteAsync(settings: new Dictionary<string, string?> { ["DocumentStore:DeliveryLogRetention"] = "01:00:00" });
        var now = DateTimeOffset.UtcNow;
        var log = stores.DeliveryLog;
        // One transaction: the host's own pruner (it runs once at start) must not see "active" between its two events,
        // when it is only three hours old and would rightly go (a fresh-clone CI run once caught it there).
        await log.AppendManyAsync(
        [
            new DeliveryEvent("old", DeliveryStatus.Queued, now.AddHours(-3), NotificationType.Email, "a@example.org"),
            new DeliveryEvent("old", DeliveryStatus.Dead, now.AddHours(-2), NotificationType.Email, "a@example.org"),
            // Created long ago but still active: retention counts from the latest event.
            new DeliveryEvent("active", DeliveryStatus.Queued, now.AddHours(-3), NotificationType.Email, "a@example.org"),
            new DeliveryEvent("active", DeliveryStatus.Retrying, now.AddMinutes(-5), NotificationType.Email, "a@example.org"),
        ], Ct);

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
}
