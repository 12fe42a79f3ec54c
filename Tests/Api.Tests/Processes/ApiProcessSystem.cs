using System.Text;
using Microsoft.Data.Sqlite;
using Notifications.Queue;
using Notifications.Tasks;
using Notifications.Tests.Infrastructure;
using StackExchange.Redis;

namespace Api.Tests.Processes;

/// <summary>
/// What an Api process runs on, kept across its restarts: a redis-server (AOF, so a restart of it keeps its data
/// too) and a SQLite file in a folder of its own. Reads the outcome straight from both.
/// </summary>
public sealed class ApiProcessSystem : IAsyncDisposable
{
    private ApiProcessSystem(RedisServerProcess redis, string directory, ConnectionMultiplexer connection)
    {
        Redis = redis;
        Directory = directory;
        Connection = connection;
    }

    public RedisServerProcess Redis { get; }
    public string Directory { get; }
    public ConnectionMultiplexer Connection { get; }
    public string QueueName { get; } = "api-process-" + Guid.NewGuid().ToString("N")[..8];
    public string StoreFile => Path.Combine(Directory, "store.db");

    public static async Task<ApiProcessSystem> StartAsync()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("api-process-").FullName;
        var redis = await RedisServerProcess.StartAsync(appendOnly: true, directory: directory);
        var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        return new ApiProcessSystem(redis, directory, connection);
    }

    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["ConnectionStrings:redis"] = Redis.Endpoint + ",abortConnect=false",
        ["ConnectionStrings:documents"] = $"Data Source={StoreFile}",
        ["DocumentStore:Provider"] = "Sqlite",
        ["NotificationQueue:Name"] = QueueName,
        ["JWT_SECRET_KEY"] = Infrastructure.ApiTestHost.Secret,
        ["Sending:Outbox:Directory"] = Path.Combine(Directory, "mail-outbox"),
        ["Logging:LogLevel:Default"] = "Warning",
        ["Webhooks:BulkSmsToken"] = WebhookToken,
        ["Webhooks:BrevoToken"] = WebhookToken,
    };

    /// <summary>Both providers' webhook token in these processes.</summary>
    public const string WebhookToken = "process-webhook-token-0123456789";

    public Task<ApiProcess> StartApiAsync(long? memoryLimitBytes = null, string environment = "Production") =>
        ApiProcess.StartAsync(Settings, memoryLimitBytes, environment);

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={StoreFile};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async Task<List<string[]>> RowsAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={StoreFile};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var rows = new List<string[]>();
        using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add([.. Enumerable.Range(0, reader.FieldCount).Select(reader.GetString)]);
        }
        return rows;
    }

    /// <summary>Waits until the Api's relay has moved the whole outbox into Redis.</summary>
    public async Task WaitForOutboxMovedAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (await ScalarAsync("SELECT count(*) FROM notification_outbox;") > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"The outbox still held notifications after {timeout.TotalSeconds:0} s.");
            await Task.Delay(100);
        }
    }

    /// <summary>Every task the queue holds (no worker runs here, so none has been removed).</summary>
    public async Task<List<NotificationTask>> QueuedTasksAsync()
    {
        var tasks = new List<NotificationTask>();
        await foreach (var entry in Connection.GetDatabase().HashScanAsync(new QueueKeys(QueueName).Tasks, pageSize: 1000))
        {
            tasks.Add(TaskJson.Deserialize((byte[])entry.Value!));
        }
        return tasks;
    }

    public static string Csv(int rows, string prefix) =>
        new StringBuilder("name,email,phone,roll number,batch\n")
            .AppendJoin('\n', Enumerable.Range(0, rows).Select(i => $"Student {i},{prefix.ToLowerInvariant()}{i}@example.edu,+9198{i:D8},{prefix}{i:D6},B1"))
            .Append('\n').ToString();

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        await Redis.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a closing handle; the temp folder is cleaned by the OS.
        }
    }
}
