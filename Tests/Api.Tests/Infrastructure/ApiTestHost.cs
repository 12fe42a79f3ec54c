using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tests.Infrastructure;
using StackExchange.Redis;

namespace Api.Tests.Infrastructure;

/// <summary>
/// One Api in this process for one test: its own redis-server, SQLite file, local mail outbox folder,
/// and queue name, so no test sees another's state. Tokens are minted with the test secret.
/// </summary>
public sealed class ApiTestHost : IAsyncDisposable
{
    public const string Secret = "test-secret-key-that-is-long-enough-for-hs256!";
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    private readonly WebApplicationFactory<Program> _factory;
    private readonly List<HttpClient> _clients = [];

    private ApiTestHost(RedisServerProcess redis, string directory, Dictionary<string, string?> settings, string environment)
    {
        Redis = redis;
        Directory = directory;
        QueueName = settings["NotificationQueue:Name"]!;
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment(environment);
            foreach (var (key, value) in settings)
            {
                web.UseSetting(key, value);
            }
        });
    }

    public RedisServerProcess Redis { get; private set; }
    public string Directory { get; }
    public string QueueName { get; }
    public IServiceProvider Services => _factory.Services;
    public IConnectionMultiplexer Multiplexer => Services.GetRequiredService<IConnectionMultiplexer>();
    public QueueKeys QueueKeys => new(QueueName);

    public static async Task<ApiTestHost> StartAsync(Action<Dictionary<string, string?>>? configure = null, bool appendOnly = false,
        string environment = "Development")
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("api-test-").FullName;
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "redis"));
        var redis = await RedisServerProcess.StartAsync(appendOnly: appendOnly, directory: Path.Combine(directory, "redis"));
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis.Endpoint + ",connectTimeout=2000,syncTimeout=3000,asyncTimeout=3000",
            ["ConnectionStrings:documents"] = $"Data Source={Path.Combine(directory, "store.db")}",
            ["DocumentStore:Provider"] = "Sqlite",
            ["NotificationQueue:Name"] = "api-test-" + Guid.NewGuid().ToString("N")[..8],
            ["JWT_SECRET_KEY"] = Secret,
            ["Sending:Outbox:Directory"] = Path.Combine(directory, "outbox"),
            ["Monitoring:AlertCheckInterval"] = "00:10:00",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        configure?.Invoke(settings);
        var host = new ApiTestHost(redis, directory, settings, environment);
        try
        {
            _ = host.Services;
            return host;
        }
        catch
        {
            // An Api that refuses to start (a test may want that) must not leave its redis-server running.
            await host.DisposeAsync();
            throw;
        }
    }

    public static string Token(string role, string subject = "staff-1", string secret = Secret, DateTime? expires = null)
    {
        var handler = new JsonWebTokenHandler();
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", subject), new Claim("role", role)]),
            Expires = expires ?? DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256),
        });
    }

    public HttpClient Anonymous() => Track(_factory.CreateClient());

    public HttpClient WithToken(string token)
    {
        var client = _factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return Track(client);
    }

    public HttpClient Staff() => WithToken(Token("staff"));

    public HttpClient Student(string studentId) => WithToken(Token("student", studentId));

    public T Service<T>() where T : notnull => Services.GetRequiredService<T>();

    public async Task<Student> SeedStudentAsync(string roll = "R001", string phone = "+919876543210", string? batch = null)
    {
        var store = Service<IStudentStore>();
        await store.UpsertManyAsync([new StudentUpsert(roll, "Asha " + roll, $"{roll.ToLowerInvariant()}@example.edu", phone, batch)]);
        return await store.GetByRollNumberAsync(roll);
    }

    public async Task<Form> SeedFormAsync(bool active = true, params FormField[] fields) =>
        await Service<IFormStore>().CreateAsync(new NewForm("Feedback " + Guid.NewGuid().ToString("N")[..6], active,
            fields.Length > 0 ? fields : [new FormField("comment", "Comment", Required: true)]));

    /// <summary>The queue's stats once the outbox relay has moved every stored notification (a 202 does not wait for that).</summary>
    public async Task<QueueStats> QueueStatsAsync()
    {
        await WaitForOutboxMovedAsync();
        return await Service<QueueMonitor>().GetStatsAsync();
    }

    /// <summary>Waits until the outbox relay has moved every stored notification into Redis.</summary>
    public async Task WaitForOutboxMovedAsync(TimeSpan? timeout = null)
    {
        var outbox = Service<INotificationOutbox>();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (await outbox.CountAsync(deadline.Token) > 0)
        {
            await Task.Delay(20, deadline.Token);
        }
    }

    /// <summary>Stops redis-server; <see cref="RestartRedisAsync"/> brings it back on the same port and folder (AOF).</summary>
    public async Task StopRedisAsync() => await Redis.DisposeAsync();

    /// <summary>Deletes the Api's saved answers to keyed requests, as if Redis had been away when they were to be saved.</summary>
    public async Task ForgetSavedAnswersAsync()
    {
        await foreach (var key in Multiplexer.GetServers().Single().KeysAsync(pattern: "api:idempotency:*"))
        {
            await Multiplexer.GetDatabase().KeyDeleteAsync(key);
        }
    }

    public async Task RestartRedisAsync() =>
        Redis = await RedisServerProcess.StartAsync(appendOnly: true, port: Redis.Port, directory: Redis.Directory);

    public static StringContent JsonBody(object value) => new(JsonSerializer.Serialize(value, Json), Encoding.UTF8, "application/json");

    public static async Task<T> ReadAsync<T>(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<T>(Json))!;

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
        try
        {
            await _factory.DisposeAsync();
        }
        finally
        {
            await Redis.DisposeAsync();
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a closing handle; the temp folder is cleaned by the OS.
        }
    }

    private HttpClient Track(HttpClient client)
    {
        _clients.Add(client);
        return client;
    }
}

/// <summary>Builds upload bodies.</summary>
public static class Uploads
{
    public const string Header = "name,email,phone,roll number,batch";

    public static MultipartFormDataContent Csv(string text, string fileName = "students.csv") =>
        File(Encoding.UTF8.GetBytes(text), fileName, "text/csv");

    public static MultipartFormDataContent File(byte[] bytes, string fileName, string contentType)
    {
        var content = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        content.Add(file, "file", fileName);
        return content;
    }

    public static byte[] Xlsx(IEnumerable<IDictionary<string, object>> rows)
    {
        using var stream = new MemoryStream();
        MiniExcelLibs.MiniExcel.SaveAs(stream, rows, excelType: MiniExcelLibs.ExcelType.XLSX);
        return stream.ToArray();
    }

    public static string Rows(int count, int start = 0) =>
        Header + "\n" + string.Join("\n", Enumerable.Range(start, count).Select(i => $"Student {i},s{i}@example.edu,98765{i:D5},R{i:D5},B1"));
}

/// <summary>Reads a CSV download back, header first, with the same library the Api writes it with.</summary>
public static class CsvDownloads
{
    public static async Task<List<string[]>> ReadAsync(HttpResponseMessage response)
    {
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var records = new List<string[]>();
        await using var body = await response.Content.ReadAsStreamAsync();
        using var reader = CsvHelper.CsvReader.Create(body, new CsvHelper.CsvReaderOptions { HasHeader = false }, true);
        while (reader.Read())
        {
            records.Add([.. Enumerable.Range(0, reader.FieldCount).Select(i => reader.GetString(i) ?? "")]);
        }
        return records;
    }
}

