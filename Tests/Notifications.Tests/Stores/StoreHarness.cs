using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MongoDB.Driver;
using Notifications.Stores;

namespace Notifications.Tests.Stores;

/// <summary>
/// A host with <c>AddDocumentStore()</c> started on a store of its own (a fresh SQLite file or a fresh
/// MongoDB database), exactly as the Api and the worker wire it; disposing it deletes that store.
/// </summary>
internal sealed class StoreHarness : IAsyncDisposable
{
    public const string MongoUriVariable = "MONGODB_URI";

    private readonly IHost _host;
    private readonly Func<Task> _cleanUp;

    private StoreHarness(IHost host, Func<Task> cleanUp)
    {
        _host = host;
        _cleanUp = cleanUp;
    }

    public IServiceProvider Services => _host.Services;
    public IStudentStore Students => Services.GetRequiredService<IStudentStore>();
    public IFormStore Forms => Services.GetRequiredService<IFormStore>();
    public IFormSubmissionStore Submissions => Services.GetRequiredService<IFormSubmissionStore>();
    public IBatchStore Batches => Services.GetRequiredService<IBatchStore>();
    public IDeliveryLog DeliveryLog => Services.GetRequiredService<IDeliveryLog>();
    public INotificationOutbox Outbox => Services.GetRequiredService<INotificationOutbox>();
    public ISuppressionList Suppressions => Services.GetRequiredService<ISuppressionList>();

    public static string NewSqliteFile() =>
        Path.Combine(Directory.CreateTempSubdirectory("store-tests-").FullName, "notifications.db");

    public static async Task<StoreHarness> StartSqliteAsync(string? file = null, IDictionary<string, string?>? settings = null)
    {
        file ??= NewSqliteFile();
        var connectionString = $"Data Source={file}";
        var host = await StartHostAsync(new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["DocumentStore:Provider"] = "Sqlite",
            ["ConnectionStrings:documents"] = connectionString,
        });
        return new StoreHarness(host, () =>
        {
            using (var connection = new SqliteConnection(connectionString))
            {
                SqliteConnection.ClearPool(connection);
            }
            // Two harnesses may share one file; the second to stop finds it gone.
            if (Path.GetDirectoryName(file) is { } directory && Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
            return Task.CompletedTask;
        });
    }

    public static async Task<StoreHarness> StartMongoAsync(string uri)
    {
        // One database per test: tests own their state and can run in parallel.
        var url = new MongoUrlBuilder(uri) { DatabaseName = $"store_tests_{Guid.NewGuid():N}" };
        var host = await StartHostAsync(new Dictionary<string, string?>
        {
            ["DocumentStore:Provider"] = "MongoDb",
            ["ConnectionStrings:documents"] = url.ToString(),
        });
        return new StoreHarness(host, async () =>
        {
            using var client = new MongoClient(url.ToMongoUrl());
            await client.DropDatabaseAsync(url.DatabaseName);
        });
    }

    private static async Task<IHost> StartHostAsync(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddDocumentStore();
        var host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        await _cleanUp();
    }
}
