// The Api and this program both have a top-level Program class.
extern alias ApiHost;

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Notifications.Queue;
using Notifications.Stores;
using StackExchange.Redis;

namespace Notifications.Benchmarks;

/// <summary>
/// The Api in this process on Kestrel (127.0.0.1, a free port), the embedded SQLite store and its own
/// redis-server: form submissions under 100 concurrent clients, a bare endpoint that only pushes one
/// item to Redis (the floor, mapped here and not in the product), and one 10,000-row CSV upload.
/// </summary>
internal static class ApiBenchmark
{
    private const int Clients = 100;
    private const int UploadRows = 10_000;
    // Long enough for tiered JIT to finish with the path before it is measured: with 2 s, the JIT's
    // background thread still took a quarter of the CPU while submissions were measured.
    private static readonly TimeSpan s_warmUp = TimeSpan.FromSeconds(Seconds("BENCH_WARMUP_S", 8));
    private static readonly TimeSpan s_measure = TimeSpan.FromSeconds(Seconds("BENCH_MEASURE_S", 8));

    public static async Task<int> RunAsync()
    {
        await using var redis = await LocalRedisServer.StartOrUseAsync(Environment.GetEnvironmentVariable("REDIS"));
        var directory = Directory.CreateTempSubdirectory("bench-api-").FullName;
        var port = BenchSupport.FreePort();
        await using var factory = new WebApplicationFactory<ApiHost::Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Production");
            web.UseSetting("ConnectionStrings:redis", redis.Endpoint);
            web.UseSetting("ConnectionStrings:documents", $"Data Source={Path.Combine(directory, "store.db")}");
            web.UseSetting("DocumentStore:Provider", "Sqlite");
            web.UseSetting("NotificationQueue:Name", "bench-api");
            web.UseSetting("JWT_SECRET_KEY", BenchSupport.JwtSecret);
            web.UseSetting("Spool:Directory", Path.Combine(directory, "spool"));
            web.UseSetting("Sending:Outbox:Directory", Path.Combine(directory, "outbox"));
            web.UseSetting("Logging:LogLevel:Default", "Warning");
            web.ConfigureServices(services => services.AddSingleton<IStartupFilter, FloorEndpoint>());
        });
        factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        factory.StartServer();
        var services = factory.Services;
        var baseAddress = new Uri(services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Console.WriteLine($"Api on {baseAddress}, redis {redis.Description}");

        var student = await SeedStudentAsync(services);
        var form = await services.GetRequiredService<IFormStore>().CreateAsync(new NewForm("Benchmark feedback", true, [new FormField("comment", "Comment")]));
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = Clients, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        using var http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var studentToken = BenchSupport.Token("student", student.Id);
        var staffToken = BenchSupport.Token("staff", "bench-staff");
        var submission = Encoding.UTF8.GetBytes("""{"answers":{"comment":"Very useful"}}""");

        HttpRequestMessage Submit()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/forms/{form.Id}/submissions") { Content = new ByteArrayContent(submission) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", studentToken);
            return request;
        }
        HttpRequestMessage Floor() => new(HttpMethod.Post, FloorEndpoint.Path);

        await LoadAsync(http, Floor, s_warmUp, redis);
        var floor = await LoadAsync(http, Floor, s_measure, redis);
        Console.WriteLine($"floor (one LPUSH per request): {floor.Rps:F0} req/s, p50 {floor.P50:F2} ms, p99 {floor.P99:F2} ms, {floor.CpuText}");
        await LoadAsync(http, Submit, s_warmUp, redis);
        var submissions = await LoadAsync(http, Submit, s_measure, redis);
        Console.WriteLine($"form submissions: {submissions.Rps:F0} req/s, p50 {submissions.P50:F2} ms, p99 {submissions.P99:F2} ms, errors {submissions.Errors}, {submissions.CpuText}");

        var uploadMs = await UploadAsync(http, staffToken, services);
        Console.WriteLine($"10,000-row CSV upload: {uploadMs:F0} ms");

        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, double>
        {
            ["rps"] = Math.Round(submissions.Rps),
            ["p50_ms"] = Math.Round(submissions.P50, 2),
            ["p99_ms"] = Math.Round(submissions.P99, 2),
            ["floor_rps"] = Math.Round(floor.Rps),
            ["upload_10k_ms"] = Math.Round(uploadMs),
        }));
        return submissions.Errors == 0 ? 0 : 1;
    }

    private static async Task<Student> SeedStudentAsync(IServiceProvider services)
    {
        var students = services.GetRequiredService<IStudentStore>();
        await students.UpsertManyAsync([new StudentUpsert("BENCH-1", "Bench Student", "bench@example.edu", "+919876543210")]);
        return await students.GetByRollNumberAsync("BENCH-1");
    }

    private static async Task<double> UploadAsync(HttpClient http, string staffToken, IServiceProvider services)
    {
        var csv = new StringBuilder("name,email,phone,roll number,batch\n");
        for (var i = 0; i < UploadRows; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"Student {i},student{i}@example.edu,98{i:D8},U{i:D6},B-upload\n");
        }
        using var content = new MultipartFormDataContent { { new ByteArrayContent(Encoding.UTF8.GetBytes(csv.ToString())), "file", "students.csv" } };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/students/upload") { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", staffToken);
        var clock = Stopwatch.StartNew();
        using var response = await http.SendAsync(request);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            throw new InvalidOperationException($"Upload answered {(int)response.StatusCode}: {body}");
        }
        using var report = JsonDocument.Parse(body);
        var imported = report.RootElement.GetProperty("imported").GetInt32();
        var queued = report.RootElement.GetProperty("notificationsQueued").GetInt32();
        var rejected = report.RootElement.GetProperty("rejected").GetArrayLength();
        var bulk = (await services.GetRequiredService<QueueMonitor>().GetStatsAsync()).Lanes.Single(l => l.Priority == Tasks.NotificationPriority.Bulk);
        var stored = (await services.GetRequiredService<IStudentStore>().ListAsync(new PageRequest(0, 1))).Total;
        Console.WriteLine($"upload: imported {imported}, rejected {rejected}, notifications queued {queued}; store has {stored} students, bulk lane {bulk.Pending} pending");
        if (imported != UploadRows || rejected != 0 || bulk.Pending != UploadRows * 2 || stored != UploadRows + 1)
        {
            throw new InvalidOperationException("The upload did not store every row and queue its notifications.");
        }
        return elapsed;
    }

    /// <param name="ProcessCpuUs">CPU time of this process (Api and load generator) per request, in microseconds.</param>
    /// <param name="RedisCpuUs">CPU time of redis-server per request, in microseconds.</param>
    private sealed record LoadResult(double Rps, double P50, double P99, long Errors, double ProcessCpuUs, double RedisCpuUs)
    {
        // CPU per request tells where the two cores go, and moves far less from run to run than throughput does.
        public string CpuText => $"CPU per request: {ProcessCpuUs:F0} us in this process, {RedisCpuUs:F0} us in redis-server";
    }

    private static async Task<LoadResult> LoadAsync(HttpClient http, Func<HttpRequestMessage> request, TimeSpan duration, LocalRedisServer redis)
    {
        using var self = Process.GetCurrentProcess();
        var processCpuBefore = self.TotalProcessorTime;
        var redisCpuBefore = redis.CpuTime;
        var latencies = new ConcurrentBag<double[]>();
        long errors = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            var mine = new List<double>(4096);
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                var started = Stopwatch.GetTimestamp();
                using var message = request();
                using var response = await http.SendAsync(message);
                await response.Content.LoadIntoBufferAsync();
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    Interlocked.Increment(ref errors);
                }
            }
            latencies.Add([.. mine]);
        })));
        var elapsed = clock.Elapsed.TotalSeconds;
        self.Refresh();
        var processCpu = self.TotalProcessorTime - processCpuBefore;
        var redisCpu = redis.CpuTime - redisCpuBefore;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        var count = Math.Max(1, all.Length);
        return new LoadResult(all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99), errors,
            processCpu.TotalMicroseconds / count, redisCpu.TotalMicroseconds / count);
    }

    private static double Seconds(string variable, double fallback) =>
        double.TryParse(Environment.GetEnvironmentVariable(variable), CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? seconds : fallback;

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    /// <summary>Benchmark only: answers 202 after one LPUSH, through the same Kestrel, middleware entry and multiplexer.</summary>
    private sealed class FloorEndpoint : IStartupFilter
    {
        public const string Path = "/bench/floor";
        private static readonly RedisKey s_key = "bench:floor";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            var redis = app.ApplicationServices.GetRequiredService<IConnectionMultiplexer>();
            app.Use(async (context, nextMiddleware) =>
            {
                if (context.Request.Path == Path)
                {
                    await redis.GetDatabase().ListLeftPushAsync(s_key, "x");
                    context.Response.StatusCode = StatusCodes.Status202Accepted;
                    return;
                }
                await nextMiddleware(context);
            });
            next(app);
        };
    }
}
