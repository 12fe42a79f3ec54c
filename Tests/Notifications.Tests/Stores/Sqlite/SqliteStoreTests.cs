using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Notifications.Stores;
using Notifications.Stores.Sqlite;
using Notifications.Tasks;

namespace Notifications.Tests.Stores.Sqlite;

/// <summary>What only the SQLite store does: the file's journal mode and pruning in place of a TTL index.</summary>
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

        Assert.Equal(1, deleted);
        await Assert.ThrowsAsync<NotFoundException>(() => log.GetAsync("old", Ct));
        Assert.Equal(2, (await log.GetAsync("active", Ct)).Timeline.Count);
        var file = stores.Services.GetRequiredService<SqliteDocumentDatabase>().FilePath;
        await using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
        await connection.OpenAsync(Ct);
        using var orphans = connection.CreateCommand();
        orphans.CommandText = "SELECT count(*) FROM delivery_events WHERE task_id = 'old';";
        Assert.Equal(0L, (long)(await orphans.ExecuteScalarAsync(Ct))!);
    }
}
