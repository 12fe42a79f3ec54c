using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Api.Tests.Infrastructure;
using Api.Tests.Processes;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using StackExchange.Redis;

namespace Api.Tests.Hostile;

/// <summary>
/// One Api process per environment (Development, and Production with the deployment's runtime settings), each on its
/// own Redis and SQLite file, seeded with a student, a form, a batch and a dead letter, so that every hostile request
/// has something real to aim at. Real Kestrel, not the in-memory test server: what the web server does with a path
/// (percent-decoding, removing dot segments) is part of what is tested.
/// </summary>
public sealed class HostileApis : IAsyncLifetime
{
    public static readonly string[] Environments = ["Development", "Production"];

    private readonly Dictionary<string, HostileApi> _apis = [];

    public HostileApi this[string environment] => _apis[environment];

    public async ValueTask InitializeAsync()
    {
        foreach (var environment in Environments)
        {
            _apis[environment] = await HostileApi.StartAsync(environment);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var api in _apis.Values)
        {
            await api.DisposeAsync();
        }
    }
}

/// <summary>The ids a hostile request may aim at.</summary>
public sealed record Seeded(string StudentId, string OtherStudentId, string FormId, string BatchId, string DeadLetterId);

/// <summary>What "nothing changed" compares: every table's row count, the queue's tasks and dead letters, the saved answers.</summary>
public sealed record StoreState(IReadOnlyDictionary<string, long> Tables, long QueuedTasks, long DeadLetters, long SavedAnswers)
{
    public override string ToString() =>
        $"tables [{string.Join(", ", Tables.Select(t => $"{t.Key}={t.Value}"))}], queued {QueuedTasks}, dead {DeadLetters}, saved answers {SavedAnswers}";
}

public sealed class HostileApi : IAsyncDisposable
{
    private readonly ApiProcessSystem _system;
    private readonly ApiProcess _process;

    private HostileApi(string environment, ApiProcessSystem system, ApiProcess process, Seeded seeded)
    {
        Environment = environment;
        _system = system;
        _process = process;
        Seeded = seeded;
        Http = new HttpClient { BaseAddress = process.BaseAddress, Timeout = TimeSpan.FromMinutes(1) };
    }

    public string Environment { get; }
    public Seeded Seeded { get; }
    public HttpClient Http { get; }
    public Uri BaseAddress => _process.BaseAddress;

    public static async Task<HostileApi> StartAsync(string environment)
    {
        var system = await ApiProcessSystem.StartAsync();
        ApiProcess? process = null;
        try
        {
            process = await system.StartApiAsync(environment: environment);
            var seeded = await SeedAsync(system, process);
            return new HostileApi(environment, system, process, seeded);
        }
        catch
        {
            process?.Dispose();
            await system.DisposeAsync();
            throw;
        }
    }

    private static async Task<Seeded> SeedAsync(ApiProcessSystem system, ApiProcess process)
    {
        using var staff = process.Client(ApiTestHost.Token("staff"));
        var upload = await staff.PostAsync("/api/students/upload", Uploads.Csv(Uploads.Header + "\nAsha,asha@example.edu,9876543210,H001,B1\nRavi,ravi@example.edu,9876543211,H002,B1\n"));
        Assert.Equal(System.Net.HttpStatusCode.Accepted, upload.StatusCode);
        var students = JsonDocument.Parse(await staff.GetStringAsync("/api/students")).RootElement.GetProperty("items");
        var studentIds = students.EnumerateArray().Select(s => s.GetProperty("id").GetString()!).ToArray();

        var form = await staff.PostAsync("/api/forms", ApiTestHost.JsonBody(new
        {
            title = "Feedback", isActive = true, fields = new[] { new { name = "comment", label = "Comment", type = "text", required = true } },
        }));
        Assert.Equal(System.Net.HttpStatusCode.Created, form.StatusCode);
        var formId = JsonDocument.Parse(await form.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;

        var batch = await staff.PostAsync("/api/batches", ApiTestHost.JsonBody(new { name = "Hostile batch", studentIds = new[] { studentIds[0] } }));
        Assert.Equal(System.Net.HttpStatusCode.Created, batch.StatusCode);
        var batchId = JsonDocument.Parse(await batch.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;

        // The dead letter the legacy intake leaves for a rejected task: "data": null, exactly what once broke the list.
        var deadLetters = new Notifications.Queue.DeadLetters(system.Connection, Options.Create(new QueueOptions { Name = system.QueueName }));
        var dead = await deadLetters.AddUnreadableAsync("""{"id":"task_1","type":"sms","data":null,"timestamp":1640995200}""", "Legacy task rejected: no data");

        await system.WaitForOutboxMovedAsync(TimeSpan.FromSeconds(60));
        return new Seeded(studentIds[0], studentIds[1], formId, batchId, dead.Id);
    }

    /// <summary>Sends the request target exactly as written: no dot-segment removal, no unescaping, as a hostile client would.</summary>
    public HttpRequestMessage Request(HttpMethod method, string target) =>
        new(method, new Uri(BaseAddress + target.TrimStart('/'), new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));

    public async Task<StoreState> StateAsync()
    {
        var tables = new Dictionary<string, long>();
        foreach (var row in await _system.RowsAsync("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name;"))
        {
            tables[row[0]] = await _system.ScalarAsync($"SELECT count(*) FROM \"{row[0]}\";");
        }
        var keys = new QueueKeys(_system.QueueName);
        var db = _system.Connection.GetDatabase();
        long savedAnswers = 0;
        await foreach (var _ in _system.Connection.GetServers().Single().KeysAsync(pattern: "api:idempotency:*"))
        {
            savedAnswers++;
        }
        return new StoreState(tables, await db.HashLengthAsync(keys.Tasks), await db.SortedSetLengthAsync(keys.Dead), savedAnswers);
    }

    /// <summary>Waits for the relay to have moved any notification a request might have stored, so the state is settled.</summary>
    public Task SettleAsync() => _system.WaitForOutboxMovedAsync(TimeSpan.FromSeconds(30));

    public static AuthenticationHeaderValue Bearer(string token) => new("Bearer", token);

    public static string UnsignedToken(string role, string subject)
    {
        static string Part(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var expires = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        return $"{Part("""{"alg":"none","typ":"JWT"}""")}.{Part($$"""{"sub":"{{subject}}","role":"{{role}}","exp":{{expires}}}""")}.";
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        _process.Dispose();
        await _system.DisposeAsync();
    }
}
