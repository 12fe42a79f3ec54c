using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Notifications.Benchmarks.Chaos;
using Notifications.Queue;
using Notifications.Testing;
using StackExchange.Redis;

namespace Notifications.Benchmarks;

/// <summary>
/// The Api as its own process from its Release build, with the deployment's runtime settings (Production,
/// and the GC and JIT settings of its generated systemd unit), on the embedded SQLite store and its own redis-server: form
/// submissions under 100 concurrent clients, then a 10,000-row and a 50,000-row CSV upload. For each phase the
/// Api's peak resident memory is sampled from /proc, so the figures are the process systemd would hold to
/// MemoryMax=256M.
/// </summary>
internal static class ApiBenchmark
{
    private const int Clients = 100;
    // Long enough for tiered JIT to finish with the path before it is measured.
    private static readonly TimeSpan s_warmUp = TimeSpan.FromSeconds(Seconds("BENCH_WARMUP_S", 8));
    private static readonly TimeSpan s_measure = TimeSpan.FromSeconds(Seconds("BENCH_MEASURE_S", 8));
    private const string QueueName = "bench-api";

    public static async Task<int> RunAsync()
    {
        await using var redis = await LocalRedisServer.StartOrUseAsync(Environment.GetEnvironmentVariable("REDIS"));
        var directory = Directory.CreateTempSubdirectory("bench-api-").FullName;
        var baseAddress = new Uri($"http://127.0.0.1:{BenchSupport.FreePort()}");
        using var api = new ServiceProcess("api", RepositoryBuild.Assembly("Api", "Release"), new Dictionary<string, string>(DeployedRuntime.Of("api").Environment)
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_URLS"] = baseAddress.ToString(),
            ["ConnectionStrings:redis"] = redis.Endpoint + ",abortConnect=false",
            ["DocumentStore:Provider"] = "Sqlite",
            ["ConnectionStrings:documents"] = $"Data Source={Path.Combine(directory, "store.db")}",
            ["NotificationQueue:Name"] = QueueName,
            ["JWT_SECRET_KEY"] = BenchSupport.JwtSecret,
            ["Sending:Outbox:Directory"] = Path.Combine(directory, "mail-outbox"),
            ["Logging:LogLevel:Default"] = "Warning",
        }, directory);
        api.Start();
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = Clients, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        using var http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(2) };
        await ServiceLiveness.WaitAsync(http, () => api.HasExited, "Api");
        var pid = api.Current!.Id;
        Console.WriteLine($"Api pid {pid} on {baseAddress}, redis {redis.Description}");

        var staffToken = BenchSupport.Token("staff", "bench-staff");
        var (studentId, formId) = await SeedAsync(http, staffToken);
        var studentToken = BenchSupport.Token("student", studentId);
        var submission = Encoding.UTF8.GetBytes("""{"answers":{"comment":"Very useful"}}""");
        HttpRequestMessage Submit()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/forms/{formId}/submissions") { Content = new ByteArrayContent(submission) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", studentToken);
            return request;
        }

        await LoadAsync(http, Submit, s_warmUp, pid, redis);
        var submissions = await LoadAsync(http, Submit, s_measure, pid, redis);
        Console.WriteLine($"form submissions: {submissions.Rps:F0} req/s, p50 {submissions.P50:F2} ms, p99 {submissions.P99:F2} ms, errors {submissions.Errors}, " +
            $"{submissions.CpuText}; Api peak RSS {Mb(submissions.PeakRss)} MB");

        var upload10k = await UploadAsync(http, staffToken, pid, redis, rows: 10_000, prefix: "U");
        Console.WriteLine($"10,000-row CSV upload: {upload10k.Ms:F0} ms, Api peak RSS {Mb(upload10k.PeakRss)} MB");
        var upload50k = await UploadAsync(http, staffToken, pid, redis, rows: 50_000, prefix: "V");
        Console.WriteLine($"50,000-row CSV upload: {upload50k.Ms:F0} ms, Api peak RSS {Mb(upload50k.PeakRss)} MB");

        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, double>
        {
            ["rps"] = Math.Round(submissions.Rps),
            ["p50_ms"] = Math.Round(submissions.P50, 2),
            ["p99_ms"] = Math.Round(submissions.P99, 2),
            ["api_cpu_us"] = Math.Round(submissions.ApiCpuUs),
            ["rss_submissions_mb"] = Mb(submissions.PeakRss),
            ["upload_10k_ms"] = Math.Round(upload10k.Ms),
            ["rss_upload_10k_mb"] = Mb(upload10k.PeakRss),
            ["upload_50k_ms"] = Math.Round(upload50k.Ms),
            ["rss_upload_50k_mb"] = Mb(upload50k.PeakRss),
        }));
        return submissions.Errors == 0 ? 0 : 1;
    }

    private static double Mb(long bytes) => Math.Round(bytes / (1024.0 * 1024), 1);

    /// <summary>One student (uploaded through the Api) and one active form.</summary>
    private static async Task<(string StudentId, string FormId)> SeedAsync(HttpClient http, string staffToken)
    {
        using (var upload = await SendAsync(http, staffToken, HttpMethod.Post, "/api/students/upload",
            Csv("name,email,phone,roll number,batch\nBench Student,bench@example.edu,+919876543210,BENCH-1,\n")))
        {
            Expect(upload, HttpStatusCode.Accepted);
        }
        using var students = await SendAsync(http, staffToken, HttpMethod.Get, "/api/students?pageSize=1", null);
        Expect(students, HttpStatusCode.OK);
        var studentId = JsonDocument.Parse(await students.Content.ReadAsStringAsync()).RootElement.GetProperty("items")[0].GetProperty("id").GetString()!;
        using var form = await SendAsync(http, staffToken, HttpMethod.Post, "/api/forms", new StringContent(
            """{"title":"Benchmark feedback","isActive":true,"fields":[{"name":"comment"}]}""", Encoding.UTF8, "application/json"));
        Expect(form, HttpStatusCode.Created);
        return (studentId, JsonDocument.Parse(await form.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!);
    }

    private static async Task<(double Ms, long PeakRss)> UploadAsync(HttpClient http, string staffToken, int pid, LocalRedisServer redis, int rows, string prefix)
    {
        var csv = new StringBuilder("name,email,phone,roll number,batch\n");
        for (var i = 0; i < rows; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"Student {i},{prefix.ToLowerInvariant()}{i}@example.edu,+9198{i:D8},{prefix}{i:D6},B-upload\n");
        }
        var bulkBefore = await BulkPendingAsync(redis);
        using var sampler = new RssSampler(pid);
        var clock = Stopwatch.StartNew();
        using var response = await SendAsync(http, staffToken, HttpMethod.Post, "/api/students/upload", Csv(csv.ToString()));
        var elapsed = clock.Elapsed.TotalMilliseconds;
        var body = await response.Content.ReadAsStringAsync();
        Expect(response, HttpStatusCode.Accepted, body);
        // The relay moves the welcomes while the peak is still sampled: the move is part of the upload's memory.
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (await BulkPendingAsync(redis) - bulkBefore < rows * 2L && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        var peak = await sampler.StopAsync();
        using var report = JsonDocument.Parse(body);
        var imported = report.RootElement.GetProperty("imported").GetInt32();
        var queued = report.RootElement.GetProperty("notificationsQueued").GetInt32();
        var inRedis = await BulkPendingAsync(redis) - bulkBefore;
        Console.WriteLine($"upload of {rows}: imported {imported}, notifications stored {queued}, moved into Redis {inRedis}");
        if (imported != rows || queued != rows * 2 || inRedis != rows * 2)
        {
            throw new InvalidOperationException("The upload did not store every row and queue its notifications.");
        }
        return (elapsed, peak);
    }

    private static async Task<long> BulkPendingAsync(LocalRedisServer redis)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var keys = new QueueKeys(QueueName);
        return await connection.GetDatabase().ListLengthAsync(keys.Pending[QueueKeys.LaneOf(Tasks.NotificationPriority.Bulk)]);
    }

    private static MultipartFormDataContent Csv(string text) =>
        new() { { new ByteArrayContent(Encoding.UTF8.GetBytes(text)), "file", "students.csv" } };

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, string token, HttpMethod method, string path, HttpContent? content)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http.SendAsync(request);
    }

    private static void Expect(HttpResponseMessage response, HttpStatusCode status, string? body = null)
    {
        if (response.StatusCode != status)
        {
            throw new InvalidOperationException($"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: {body}");
        }
    }

    /// <param name="ApiCpuUs">CPU time of the Api process per request, in microseconds.</param>
    /// <param name="RedisCpuUs">CPU time of redis-server per request, in microseconds.</param>
    private sealed record LoadResult(double Rps, double P50, double P99, long Errors, double ApiCpuUs, double RedisCpuUs, long PeakRss)
    {
        public string CpuText => $"CPU per request: {ApiCpuUs:F0} us in the Api, {RedisCpuUs:F0} us in redis-server";
    }

    private static async Task<LoadResult> LoadAsync(HttpClient http, Func<HttpRequestMessage> request, TimeSpan duration, int pid, LocalRedisServer redis)
    {
        using var apiProcess = Process.GetProcessById(pid);
        var apiCpuBefore = apiProcess.TotalProcessorTime;
        var redisCpuBefore = redis.CpuTime;
        using var sampler = new RssSampler(pid);
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
        var peak = await sampler.StopAsync();
        apiProcess.Refresh();
        var apiCpu = apiProcess.TotalProcessorTime - apiCpuBefore;
        var redisCpu = redis.CpuTime - redisCpuBefore;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        var count = Math.Max(1, all.Length);
        return new LoadResult(all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99), errors,
            apiCpu.TotalMicroseconds / count, redisCpu.TotalMicroseconds / count, peak);
    }

    private static double Seconds(string variable, double fallback) =>
        double.TryParse(Environment.GetEnvironmentVariable(variable), CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? seconds : fallback;

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    /// <summary>Samples a process's resident memory (VmRSS) every 10 ms and keeps the highest value.</summary>
    private sealed class RssSampler : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<long> _sampling;

        public RssSampler(int pid) => _sampling = Task.Run(async () =>
        {
            long peak = 0;
            while (!_stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, Read(pid));
                await Task.Delay(10);
            }
            return Math.Max(peak, Read(pid));
        });

        public async Task<long> StopAsync()
        {
            await _stop.CancelAsync();
            return await _sampling;
        }

        public void Dispose() => _stop.Dispose();

        private static long Read(int pid)
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
            return 0;
        }
    }
}
