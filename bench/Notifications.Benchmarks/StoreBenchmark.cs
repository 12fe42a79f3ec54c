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
/// fresh file, delivery-log appends one after another (each its own transaction, as a lone worker
/// writes them), then the Api's Queued events in batches of 500, and form submissions from 100
/// concurrent callers (group commit). Prints <c>{"upsert_10k_ms":..,"log_append_per_s":..,
/// "log_append_batched_per_s":..,"submissions_per_s":..}</c> as the last line.
/// </summary>
internal static class StoreBenchmark
{
    private const int Students = 10_000;
    private const int Appends = 20_000;
    private const int EventsPerTask = 4;
    private const int BatchedEvents = 50_000;
    private const int EventBatch = 500;
    private const int Submissions = 20_000;
    private const int Callers = 100;

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

            var batchedClock = Stopwatch.StartNew();
            for (var first = 0; first < BatchedEvents; first += EventBatch)
            {
                await store.Log.AppendManyAsync([.. Enumerable.Range(first, EventBatch).Select(i =>
                    new DeliveryEvent($"queued-{i}", DeliveryStatus.Queued, DateTimeOffset.UtcNow, NotificationType.Email, $"student{i}@example.org")
                    {
                        SubmissionId = $"submission-{i / 2}", StudentId = $"student-{i / 2}",
                    })]);
            }
            batchedClock.Stop();

            var form = await store.Forms.CreateAsync(new NewForm("Benchmark", true, [new FormField("comment", "Comment")]));
            var submitted = 0;
            var submissionClock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
            {
                while (Interlocked.Increment(ref submitted) <= Submissions)
                {
                    await store.Submissions.CreateAsync(new NewSubmission(form.Id, $"student-{caller}", $"R{caller:D6}",
                        new Dictionary<string, string> { ["comment"] = "Very useful" }));
                }
            })));
            submissionClock.Stop();

            var upsertMs = Math.Round(upsertClock.Elapsed.TotalMilliseconds, 1);
            var appendsPerSecond = Math.Round(Appends / appendClock.Elapsed.TotalSeconds);
            var batchedPerSecond = Math.Round(BatchedEvents / batchedClock.Elapsed.TotalSeconds);
            var submissionsPerSecond = Math.Round(Submissions / submissionClock.Elapsed.TotalSeconds);
            Console.WriteLine($"upsert of {Students} students in one call: {upsertMs} ms");
            Console.WriteLine($"{Appends} delivery-log appends, one at a time: {appendClock.Elapsed.TotalMilliseconds:F0} ms");
            Console.WriteLine($"{BatchedEvents} delivery-log appends in batches of {EventBatch}: {batchedClock.Elapsed.TotalMilliseconds:F0} ms");
            Console.WriteLine($"{Submissions} form submissions from {Callers} concurrent callers: {submissionClock.Elapsed.TotalMilliseconds:F0} ms");
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, double>
            {
                ["upsert_10k_ms"] = upsertMs,
                ["log_append_per_s"] = appendsPerSecond,
                ["log_append_batched_per_s"] = batchedPerSecond,
                ["submissions_per_s"] = submissionsPerSecond,
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
        public IFormStore Forms { get; } = host.Services.GetRequiredService<IFormStore>();
        public IFormSubmissionStore Submissions { get; } = host.Services.GetRequiredService<IFormSubmissionStore>();

        public async ValueTask DisposeAsync()
        {
            await host.StopAsync();
            host.Dispose();
        }
    }
}
