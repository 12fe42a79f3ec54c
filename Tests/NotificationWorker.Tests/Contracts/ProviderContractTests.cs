using System.Net;
using System.Net.Http.Headers;
using System.Text;
using NotificationWorker.Sending;
using NotificationWorker.Tests.Support;
using Notifications.Tasks;

namespace NotificationWorker.Tests.Contracts;

public sealed class BulkSmsDocument : IAsyncLifetime
{
    public PrismMock Mock { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Mock = await PrismMock.StartAsync("bulksms.openapi.yaml");

    public ValueTask DisposeAsync() => Mock.DisposeAsync();
}

public sealed class BrevoDocument : IAsyncLifetime
{
    public PrismMock Mock { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Mock = await PrismMock.StartAsync("brevo.openapi.yaml");

    public ValueTask DisposeAsync() => Mock.DisposeAsync();
}

/// <summary>
/// The real BulkSMS sender against a server that validates every request against BulkSMS's published
/// API document (trimmed to the operation we call): what BulkSMS would refuse, the mock refuses.
/// </summary>
public sealed class BulkSmsContractTests(BulkSmsDocument document) : IClassFixture<BulkSmsDocument>
{
    private const char Telugu = '\u0C24';

    public static TheoryData<string, string?, string> Messages => new()
    {
        { "Hi Thandi, welcome to AI-VERSANT!", null, "01JDQ6Z8K3M4N5P6Q7R8S9T0VW" },
        { new string('a', 300), "AI-VERSANT", "01JDQ6Z8K3M4N5P6Q7R8S9T0VX" },
        { "Hi " + new string(Telugu, 227), "+27831234500", "01JDQ6Z8K3M4N5P6Q7R8S9T0VY" },
        { "Your code is 123456 😀 {}[]€", "REPLIABLE", "01JDQ6Z8K3M4N5P6Q7R8S9T0VZ" },
        // The old backend's task ids, as the legacy intake keeps them.
        { "Welcome message", null, "task_1640995200000" },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public async Task EverySmsTheWorkerSends_MatchesTheDocument(string text, string? from, string taskId)
    {
        await using var host = SenderHost.Create(new Dictionary<string, string?>
        {
            ["Sending:BulkSms:BaseUrl"] = document.Mock.Url + "v1",
            ["Sending:BulkSms:Username"] = "versant-user",
            ["Sending:BulkSms:Password"] = "s3cret",
            ["Sending:BulkSms:From"] = from,
        });

        var result = await host.Senders.Sms.SendAsync(new OutgoingMessage(taskId, NotificationType.Sms, "+27831234567", null, text, null),
            TestContext.Current.CancellationToken);

        // The document's example answer: anything the mock refused would be a refused request instead.
        Assert.Equal(new SendResult.Sent(ProviderNames.BulkSms, "4031238452"), result);
    }

    [Fact]
    public async Task TheMock_CatchesAWrongField_AsBulkSmsWould()
    {
        using var client = Client();
        const string entry = """[{"to":[{"address":"+27831234567"}],"body":"hi"}]""";

        using var valid = await PostAsync(client, "v1/messages?deduplication-id=2147483647", entry);
        // A 53-bit deduplication id (what the worker sent before) and the bare object form are both refused.
        using var tooLarge = await PostAsync(client, "v1/messages?deduplication-id=9007199254740991", entry);
        using var notAnArray = await PostAsync(client, "v1/messages?deduplication-id=1", entry[1..^1]);
        using var misspelt = await PostAsync(client, "v1/messages", """[{"to":[{"address":"+27831234567"}],"body":"hi","longMessageMaxPart":4}]""");

        Assert.Equal(HttpStatusCode.Created, valid.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, tooLarge.StatusCode);
        Assert.Contains("2147483647", Violations(tooLarge));
        Assert.Equal(HttpStatusCode.BadRequest, notAnArray.StatusCode);
        Assert.Contains("array", Violations(notAnArray));
        Assert.Equal(HttpStatusCode.BadRequest, misspelt.StatusCode);
        Assert.Contains("longMessageMaxPart", Violations(misspelt));
    }

    private HttpClient Client()
    {
        var client = new HttpClient { BaseAddress = document.Mock.Url };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("user:pass"u8.ToArray()));
        return client;
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

    internal static string Violations(HttpResponseMessage response) =>
        response.Headers.TryGetValues("sl-violations", out var values) ? string.Join(" ", values) : "";
}

/// <summary>The real Brevo sender against a server that validates requests against Brevo's transactional email operation.</summary>
public sealed class BrevoContractTests(BrevoDocument document) : IClassFixture<BrevoDocument>
{
    [Theory]
    [InlineData("Welcome to AI-VERSANT", "<p>Hi Thandi,</p>")]
    [InlineData("స్వాగతం, AI-VERSANT", null)]
    public async Task EveryEmailTheWorkerSends_MatchesTheDocument(string subject, string? html)
    {
        await using var host = SenderHost.Create(new Dictionary<string, string?>
        {
            ["Sending:Brevo:BaseUrl"] = document.Mock.Url + "v3",
            ["Sending:Brevo:SenderEmail"] = "noreply@versant.example",
            ["Sending:Brevo:SenderName"] = "AI-VERSANT",
            ["BREVO_API_KEY"] = "xkeysib-test-0123456789",
        });

        var result = await host.Senders.Email.SendAsync(
            new OutgoingMessage(TaskIds.New(), NotificationType.Email, "thandi@example.org", subject, "Hi Thandi,\nwelcome.\n", html),
            TestContext.Current.CancellationToken);

        Assert.Equal(new SendResult.Sent(ProviderNames.Brevo, "<202312011200.12345678@smtp-relay.mailin.fr>"), result);
    }

    [Fact]
    public async Task TheMock_CatchesAWrongField_AsBrevoWould()
    {
        using var client = new HttpClient { BaseAddress = document.Mock.Url };
        client.DefaultRequestHeaders.Add("api-key", "xkeysib-test-0123456789");
        const string email = """
            {"sender":{"email":"noreply@versant.example"},"to":[{"email":"thandi@example.org"}],"subject":"Hi","textContent":"Hi",
             "headers":{"idempotencyKey":"KEY"}}
            """;

        using var valid = await PostAsync(client, email.Replace("KEY", TaskUuid.For("task-1").ToString(), StringComparison.Ordinal));
        // Brevo's key must be a UUID: a task id as it is would be refused.
        using var notAUuid = await PostAsync(client, email.Replace("KEY", "01JDQ6Z8K3M4N5P6Q7R8S9T0VW", StringComparison.Ordinal));
        client.DefaultRequestHeaders.Remove("api-key");
        using var noKey = await PostAsync(client, email.Replace("KEY", TaskUuid.For("task-1").ToString(), StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.Created, valid.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, notAUuid.StatusCode);
        Assert.Contains("uuid", BulkSmsContractTests.Violations(notAUuid));
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string json) =>
        client.PostAsync("v3/smtp/email", new StringContent(json, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
}
