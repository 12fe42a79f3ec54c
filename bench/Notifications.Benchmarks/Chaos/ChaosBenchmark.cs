using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Notifications.Testing;

namespace Notifications.Benchmarks.Chaos;

/// <summary>
/// The product's promise under crashes: redis-server, the Api and two workers as separate processes on
/// the embedded store (one SQLite file), a BulkSMS and a Brevo on loopback that record every request.
/// 500 students are uploaded (1,000 welcomes) and each submits a form (1,000 confirmations), while a
/// worker is SIGKILLed and restarted 20 times at random moments and redis-server is SIGKILLed and
/// restarted 5 times under the submission load. A client retries a failed request with the same
/// Idempotency-Key, as the platform's clients do; only a 2xx counts as accepted.
/// Prints accepted, delivered, lost, duplicated (one notification received twice under different
/// idempotency keys, so the provider would deliver both) and recovery seconds as the last-line JSON.
/// </summary>
internal static class ChaosBenchmark
{
    private const int Students = 500;
    private const int UploadRows = 50;
    private const int WorkerKills = 20;
    private const int RedisKills = 5;
    private const int SubmissionClients = 10;
    // Long enough for a lease of a killed worker to expire (15 s by default) and its retry to run.
    private static readonly TimeSpan s_noProgressLimit = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan s_requestDeadline = TimeSpan.FromSeconds(120);
    private static int s_retries;

    public static async Task<int> RunAsync()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CHAOS_SEED"), CultureInfo.InvariantCulture, out var given) ? given : Environment.TickCount;
        var random = new Random(seed);
        var directory = Directory.CreateTempSubdirectory("bench-chaos-").FullName;
        Console.WriteLine($"seed {seed}; logs and store in {directory}");

        await using var redis = await LocalRedisServer.StartOrUseAsync(null);
        await using var providers = await ProviderRecorder.StartAsync();
        var apiUrl = $"http://127.0.0.1:{BenchSupport.FreePort()}";
        var common = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ConnectionStrings:redis"] = redis.Endpoint + ",abortConnect=false",
            ["DocumentStore:Provider"] = "Sqlite",
            ["ConnectionStrings:documents"] = $"Data Source={Path.Combine(directory, "store.db")}",
            ["JWT_SECRET_KEY"] = BenchSupport.JwtSecret,
            ["Logging:LogLevel:Default"] = "Warning",
            ["LegacyIntake:Enabled"] = "false",
            ["Sending:Outbox:Directory"] = Path.Combine(directory, "outbox"),
        };
        // The deployment's runtime settings (GC, heap limit, JIT), from each service's generated systemd unit.
        var apiSettings = new Dictionary<string, string>(common.Concat(DeployedRuntime.Of("api").Environment))
        {
            ["ASPNETCORE_URLS"] = apiUrl,
        };
        var workerSettings = new Dictionary<string, string>(common.Concat(DeployedRuntime.Of("notification-worker").Environment))
        {
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["BULKSMS_USERNAME"] = "school",
            ["BULKSMS_PASSWORD"] = "secret",
            ["Sending:BulkSms:BaseUrl"] = providers.BaseUrl + "/bulksms/v1",
            ["BREVO_API_KEY"] = "chaos-key",
            ["Sending:Brevo:BaseUrl"] = providers.BaseUrl + "/brevo/v3",
            ["Sending:Brevo:SenderEmail"] = "results@school.example",
            // The provider's rate is not what this measures; 10/s would only make the run long.
            ["Sending:RateLimits:BulkSms:PerSecond"] = "200",
            ["Sending:RateLimits:Brevo:PerSecond"] = "200",
        };
        using var api = new ServiceProcess("api", RepositoryBuild.Assembly("Api", "Release"), apiSettings, directory);
        var workers = new[]
        {
            new ServiceProcess("worker-1", RepositoryBuild.Assembly("NotificationWorker", "Release"), workerSettings, directory),
            new ServiceProcess("worker-2", RepositoryBuild.Assembly("NotificationWorker", "Release"), workerSettings, directory),
        };
        try
        {
            api.Start();
            foreach (var worker in workers)
            {
                worker.Start();
            }
            using var http = new HttpClient { BaseAddress = new Uri(apiUrl), Timeout = TimeSpan.FromSeconds(30) };
            var staff = BenchSupport.Token("staff", "chaos-staff");
            await WaitForApiAsync(http, staff, api);
            var formId = await CreateFormAsync(http, staff);

            var clock = Stopwatch.StartNew();
            var workerChaos = Task.Run(() => KillWorkersAsync(workers, random, clock));
            var uploads = await UploadAsync(http, staff);
            var students = await ListStudentsAsync(http, staff);
            Console.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s uploads done: {uploads.Imported} imported, {uploads.Queued} notifications queued; {students.Count} students stored");

            var redisChaos = Task.Run(() => KillRedisAsync(redis, new Random(random.Next()), clock));
            var submissions = await SubmitAllAsync(http, formId, students);
            await Task.WhenAll(workerChaos, redisChaos);
            var lastFault = clock.Elapsed;
            Console.WriteLine($"{lastFault.TotalSeconds:F1}s chaos over: {submissions.Accepted.Count} submissions accepted, {submissions.Refused} refused, {s_retries} requests retried; {WorkerKills} worker and {RedisKills} redis-server kills");

            // What the Api promised: each stored student a welcome by SMS and by email, each accepted
            // submission a confirmation by SMS and by email.
            var expected = new Dictionary<(string Channel, string Recipient), int>();
            foreach (var student in students)
            {
                var submitted = submissions.Accepted.ContainsKey(student.Id) ? 2 : 1;
                expected[("sms", student.Phone)] = submitted;
                expected[("email", student.Email)] = submitted;
            }
            var accepted = expected.Values.Sum();

            var (tally, deliveredAt) = await WaitForDeliveryAsync(providers, expected, accepted, http, staff, clock);
            var queue = await QueueStatsAsync(http, staff);
            var recovery = deliveredAt is { } at ? Math.Max(0, (at - lastFault).TotalSeconds) : (double?)null;
            Console.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s provider requests {providers.Requests.Count}: delivered {tally.Delivered} of {accepted}, lost {tally.Lost}, duplicated {tally.Duplicated}, resent under the same key {tally.ResentSameKey}, unexpected {tally.Unexpected}; queue {queue}");
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["accepted"] = accepted,
                ["delivered"] = tally.Delivered,
                ["lost"] = tally.Lost,
                ["duplicated"] = tally.Duplicated,
                ["resent_same_key"] = tally.ResentSameKey,
                ["unexpected"] = tally.Unexpected,
                ["recovery_seconds"] = recovery is { } r ? Math.Round(r, 1) : null,
                ["worker_kills"] = WorkerKills,
                ["redis_kills"] = RedisKills,
                ["submissions_refused"] = submissions.Refused,
                ["requests_retried"] = s_retries,
                ["seed"] = seed,
            }));
            var clean = tally.Lost == 0 && tally.Duplicated == 0 && tally.Unexpected == 0;
            if (clean)
            {
                Directory.Delete(directory, recursive: true);
            }
            return clean ? 0 : 1;
        }
        finally
        {
            foreach (var worker in workers)
            {
                worker.Dispose();
            }
        }
    }

    private static async Task WaitForApiAsync(HttpClient http, string staff, ServiceProcess api)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var request = Authorized(HttpMethod.Get, "/api/forms/active", staff);
                using var response = await http.SendAsync(request);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            if (api.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new InvalidOperationException("The Api did not answer within 60 s; see api.log.");
            }
            await Task.Delay(200);
        }
    }

    private static async Task<string> CreateFormAsync(HttpClient http, string staff)
    {
        using var request = Authorized(HttpMethod.Post, "/api/forms", staff);
        request.Content = JsonContent.Create(new { title = "Chaos feedback", isActive = true, fields = new[] { new { name = "comment", label = "Comment", required = true } } });
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>SIGKILLs one of the two workers at a random moment, restarts it at once, 20 times.</summary>
    private static async Task KillWorkersAsync(ServiceProcess[] workers, Random random, Stopwatch clock)
    {
        for (var kill = 1; kill <= WorkerKills; kill++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(300, 2500)));
            var victim = workers[random.Next(workers.Length)];
            victim.Kill();
            victim.Start();
            Console.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s worker kill {kill}: {victim.Name} (start {victim.Starts})");
        }
    }

    /// <summary>SIGKILLs redis-server under the submission load and restarts it on its AOF, 5 times.</summary>
    private static async Task KillRedisAsync(LocalRedisServer redis, Random random, Stopwatch clock)
    {
        for (var kill = 1; kill <= RedisKills; kill++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(1500, 3500)));
            await redis.KillAsync();
            var down = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(500, 2000)));
            await redis.RestartAsync();
            Console.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s redis kill {kill}: down {down.Elapsed.TotalSeconds:F1}s");
        }
    }

    private sealed record UploadTotals(int Imported, int Queued);

    private static async Task<UploadTotals> UploadAsync(HttpClient http, string staff)
    {
        int imported = 0, queued = 0;
        for (var upload = 0; upload < Students / UploadRows; upload++)
        {
            var csv = new StringBuilder("name,email,phone,roll number,batch\n");
            for (var row = 0; row < UploadRows; row++)
            {
                var i = upload * UploadRows + row;
                csv.Append(CultureInfo.InvariantCulture, $"Chaos Student {i},chaos{i}@school.example,97{i:D8},C{i:D5},B-chaos\n");
            }
            var file = Encoding.UTF8.GetBytes(csv.ToString());
            using var response = await SendUntilAnsweredAsync(http, () =>
            {
                var request = Authorized(HttpMethod.Post, "/api/students/upload", staff);
                request.Headers.Add("Idempotency-Key", $"chaos-upload-{upload}");
                request.Content = new MultipartFormDataContent { { new ByteArrayContent(file), "file", "students.csv" } };
                return request;
            });
            var body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"Upload {upload} answered {(int)response.StatusCode}: {body}");
            }
            using var report = JsonDocument.Parse(body);
            imported += report.RootElement.GetProperty("imported").GetInt32();
            queued += report.RootElement.GetProperty("notificationsQueued").GetInt32();
        }
        return new UploadTotals(imported, queued);
    }

    private sealed record StoredStudent(string Id, string Phone, string Email);

    private static async Task<List<StoredStudent>> ListStudentsAsync(HttpClient http, string staff)
    {
        var students = new List<StoredStudent>();
        for (var page = 1; ; page++)
        {
            using var response = await SendUntilAnsweredAsync(http, () => Authorized(HttpMethod.Get, $"/api/students?page={page}&pageSize=200", staff));
            response.EnsureSuccessStatusCode();
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var items = body.RootElement.GetProperty("items");
            students.AddRange(items.EnumerateArray().Select(s => new StoredStudent(
                s.GetProperty("id").GetString()!, s.GetProperty("phone").GetString()!, s.GetProperty("email").GetString()!)));
            if (items.GetArrayLength() < 200)
            {
                return students;
            }
        }
    }

    private sealed record SubmissionTotals(ConcurrentDictionary<string, bool> Accepted, int Refused);

    /// <summary>Every student submits the form once, ten clients at a steady pace, so the load spans the redis kills.</summary>
    private static async Task<SubmissionTotals> SubmitAllAsync(HttpClient http, string formId, List<StoredStudent> students)
    {
        var accepted = new ConcurrentDictionary<string, bool>();
        var refused = 0;
        await Task.WhenAll(Enumerable.Range(0, SubmissionClients).Select(client => Task.Run(async () =>
        {
            foreach (var student in students.Where((_, i) => i % SubmissionClients == client))
            {
                var token = BenchSupport.Token("student", student.Id);
                using var response = await SendUntilAnsweredAsync(http, () =>
                {
                    var request = Authorized(HttpMethod.Post, $"/api/forms/{formId}/submissions", token);
                    request.Headers.Add("Idempotency-Key", "chaos-submit-" + student.Id);
                    request.Content = JsonContent.Create(new { answers = new Dictionary<string, string> { ["comment"] = "Clear and useful" } });
                    return request;
                });
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    accepted[student.Id] = true;
                }
                else
                {
                    Interlocked.Increment(ref refused);
                    Console.WriteLine($"submission of {student.Id} refused: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
                await Task.Delay(400);
            }
        })));
        return new SubmissionTotals(accepted, refused);
    }

    /// <summary>
    /// Sends until the Api gives an answer a client acts on: a 2xx or a 4xx other than 408 and 429.
    /// A 5xx, 503, 408, 429 or no answer at all is retried with the same request (and so the same
    /// Idempotency-Key) until <see cref="s_requestDeadline"/>.
    /// </summary>
    private static async Task<HttpResponseMessage> SendUntilAnsweredAsync(HttpClient http, Func<HttpRequestMessage> build)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            HttpResponseMessage? response = null;
            try
            {
                using var request = build();
                response = await http.SendAsync(request);
                var status = (int)response.StatusCode;
                if (status < 500 && status is not 408 and not 429)
                {
                    return response;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            if (clock.Elapsed > s_requestDeadline)
            {
                return response ?? throw new TimeoutException($"No answer within {s_requestDeadline.TotalSeconds} s.");
            }
            response?.Dispose();
            Interlocked.Increment(ref s_retries);
            await Task.Delay(250);
        }
    }

    private sealed record Tally(int Delivered, int Lost, int Duplicated, int ResentSameKey, int Unexpected);

    /// <summary>
    /// Reads the providers' record until every accepted notification has arrived and the queue is empty,
    /// or until nothing new has arrived for <see cref="s_noProgressLimit"/>.
    /// </summary>
    private static async Task<(Tally Tally, TimeSpan? DeliveredAt)> WaitForDeliveryAsync(ProviderRecorder providers,
        Dictionary<(string, string), int> expected, int accepted, HttpClient http, string staff, Stopwatch clock)
    {
        TimeSpan? deliveredAt = null;
        var lastCount = -1;
        var lastProgress = clock.Elapsed;
        while (true)
        {
            var tally = Count(providers.Requests, expected);
            if (tally.Delivered == accepted)
            {
                deliveredAt ??= clock.Elapsed;
                // Everything arrived; what is left is to see no resend is still to come.
                if (await QueueStatsAsync(http, staff) is { Unfinished: 0 })
                {
                    return (Count(providers.Requests, expected), deliveredAt);
                }
            }
            if (providers.Requests.Count != lastCount)
            {
                lastCount = providers.Requests.Count;
                lastProgress = clock.Elapsed;
            }
            else if (clock.Elapsed - lastProgress > s_noProgressLimit)
            {
                return (tally, deliveredAt);
            }
            await Task.Delay(500);
        }
    }

    private static Tally Count(IEnumerable<ProviderRequest> requests, Dictionary<(string, string), int> expected)
    {
        // One notification: a channel, a recipient and its content (a welcome and a confirmation differ).
        var notifications = requests.GroupBy(r => (r.Channel, r.Recipient, r.Content)).ToArray();
        var duplicated = notifications.Count(n => n.Select(r => r.IdempotencyKey ?? Guid.NewGuid().ToString()).Distinct().Count() > 1);
        var resentSameKey = notifications.Sum(n => n.Count() - n.Select(r => r.IdempotencyKey).Distinct().Count());
        int delivered = 0, unexpected = 0;
        var received = notifications.GroupBy(n => (n.Key.Channel, n.Key.Recipient)).ToDictionary(g => g.Key, g => g.Count());
        foreach (var (recipient, count) in expected)
        {
            var got = received.GetValueOrDefault(recipient);
            delivered += Math.Min(got, count);
            unexpected += Math.Max(0, got - count);
        }
        unexpected += received.Keys.Count(k => !expected.ContainsKey(k));
        return new Tally(delivered, expected.Values.Sum() - delivered, duplicated, resentSameKey, unexpected);
    }

    private sealed record QueueSummary(long Unfinished, long Dead, long Recovered, long Poisoned)
    {
        public override string ToString() => $"unfinished {Unfinished}, dead {Dead}, recovered {Recovered}, poisoned {Poisoned}";
    }

    private static async Task<QueueSummary> QueueStatsAsync(HttpClient http, string staff)
    {
        using var response = await SendUntilAnsweredAsync(http, () => Authorized(HttpMethod.Get, "/api/monitoring/queue", staff));
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = body.RootElement;
        var unfinished = root.GetProperty("lanes").EnumerateArray()
            .Sum(l => l.GetProperty("pending").GetInt64() + l.GetProperty("scheduled").GetInt64() + l.GetProperty("leased").GetInt64());
        var counters = root.GetProperty("counters");
        return new QueueSummary(unfinished, root.GetProperty("dead").GetInt64(), counters.GetProperty("recovered").GetInt64(), counters.GetProperty("poisoned").GetInt64());
    }

    private static HttpRequestMessage Authorized(HttpMethod method, string path, string token)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }
}
