using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Notifications.Stores;
using Notifications.Tasks;

namespace Notifications.Benchmarks;

/// <summary>
/// The embedded SQLite store, wired as the services wire it: one bulk upload of 10,000 students into a
/// fresh file, then delivery-log appends one after another (each its own transaction, as the worker
/// writes them). Prints <c>{"upsert_10k_ms":..,"log_append_per_s":..}</c> as the last line.
/// </summary>
internal static class StoreBenchmark
{
    private const int Students = 10_000;
    private const int Appends = 20_000;
    private const int EventsPerTask = 4;

    public static async Task<int> RunAsync()
    {
        var directory = Directory.CreateTempSubdirectory("store-bench-");
        try
        {
            // A first run in its own file pays for JIT and SQLite's first open, so the measured call is the steady state.
            await using (var warmUp = await OpenAsync(Path.Combine(directory.FullName, "warm-up.db")))
            {
                await warmUp.Students.UpsertManyAsync(Upload(500, "warm"));
                await AppendAsync(warmUp.Log, 500, "warm");
            }

            await using var store = await OpenAsync(Path.Combine(directory.FullName, "notifications.db"));
            var upload = Upload(Students, "R");
            var upsertClock = Stopwatch.StartNew();
            var counts = await store.Students.UpsertManyAsync(upload);
            upsertClock.Stop();
            if (counts.Inserted != Students)
            {
                throw new InvalidOperationException($"Expected {Students} inserts, got {counts}.");
            }

            var appendClock = Stopwatch.StartNew();
            await AppendAsync(store.Log, Appends, "task");
            appendClock.Stop();

            var upsertMs = Math.Round(upsertClock.Elapsed.TotalMilliseconds, 1);
            var appendsPerSecond = Math.Round(Appends / appendClock.Elapsed.TotalSeconds);
            Console.WriteLine($"upsert of {Students} students in one call: {upsertMs} ms");
            Console.WriteLine($"{Appends} delivery-log appends, one at a time: {appendClock.Elapsed.TotalMilliseconds:F0} ms");
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, double>
            {
                ["upsert_10k_ms"] = upsertMs,
                ["log_append_per_s"] = appendsPerSecond,
            }));
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    private static List<StudentUpsert> Upload(int count, string prefix) =>
        Enumerable.Range(0, count)
            .Select(i => new StudentUpsert($"{prefix}{i:D6}", $"Student {i}", $"student{i}@example.org", $"+9198{i:D8}", "batch-2026"))
            .ToList();

    private static async Task AppendAsync(IDeliveryLog log, int appends, string prefix)
    {
        var statuses = new[] { DeliveryStatus.Queued, DeliveryStatus.Sending, DeliveryStatus.Retrying, DeliveryStatus.Sent };
        var start = DateTimeOffset.UtcNow;
        for (var i = 0; i < appends; i++)
        {
            var step = i % EventsPerTask;
            await log.AppendAsync(new DeliveryEvent($"{prefix}-{i / EventsPerTask}", statuses[step], start.AddMilliseconds(i), NotificationType.Sms, $"+9198{i / EventsPerTask:D8}")
            {
                Attempt = step == 0 ? 0 : 1,
                Provider = step == 0 ? null : "bulksms",
                Error = statuses[step] == DeliveryStatus.Retrying ? "HTTP 503" : null,
                BatchId = "batch-2026",
            });
        }
    }

    private static async Task<BenchmarkStore> OpenAsync(string file)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DocumentStore:Provider"] = "Sqlite",
            ["ConnectionStrings:documents"] = $"Data Source={file}",
        });
        builder.AddDocumentStore();
        var host = builder.Build();
        await host.StartAsync();
        return new BenchmarkStore(host);
    }

    private sealed class BenchmarkStore(IHost host) : IAsyncDisposable
    {
        public IStudentStore Students { get; } = host.Services.GetRequiredService<IStudentStore>();
        public IDeliveryLog Log { get; } = host.Services.GetRequiredService<IDeliveryLog>();

        public async ValueTask DisposeAsync()
        {
            await host.StopAsync();
            host.Dispose();
        }
    }
}
