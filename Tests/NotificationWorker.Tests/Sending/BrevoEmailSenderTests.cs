using Notifications.Tasks;
using System.Text.Json;
using NotificationWorker.Sending;
using NotificationWorker.Tests.Support;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace NotificationWorker.Tests.Sending;

/// <summary>Brevo's transactional email API as a local WireMock server that answers like the real one.</summary>
public sealed class BrevoEmailSenderTests : IAsyncLifetime
{
    private const string ApiKey = "xkeysib-test-0123456789";
    private readonly WireMockServer _api = WireMockServer.Start();
    private SenderHost _host = null!;

    public ValueTask InitializeAsync()
    {
        _host = SenderHost.Create(new Dictionary<string, string?>
        {
            ["Sending:Brevo:BaseUrl"] = _api.Url + "/v3",
            ["Sending:Brevo:SenderEmail"] = "noreply@versant.example",
            ["Sending:Brevo:SenderName"] = "AI-VERSANT",
            ["BREVO_API_KEY"] = ApiKey,
            // SMTP is configured too: Brevo wins when it has a key.
            ["Sending:Smtp:Host"] = "127.0.0.1",
            ["Sending:Smtp:FromAddress"] = "noreply@versant.example",
        });
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _api.Stop();
        _api.Dispose();
    }

    [Fact]
    public async Task Send_PostsSenderRecipientSubjectAndBothBodies_WithTheApiKeyHeader()
    {
        Answer(201, """{"messageId":"<202611260900.12345678901@smtp-relay.mailin.fr>"}""");

        var taskId = "01JDQ6Z8K3M4N5P6Q7R8S9T0VW";
        var result = await _host.Senders.Email.SendAsync(Messages.Email(taskId: taskId), TestContext.Current.CancellationToken);

        Assert.Equal(new SendResult.Sent(ProviderNames.Brevo, "<202611260900.12345678901@smtp-relay.mailin.fr>"), result);
        var request = Assert.Single(_api.LogEntries).RequestMessage!;
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v3/smtp/email", request.Path);
        Assert.Equal(ApiKey, request.Headers!["api-key"].Single());
        Assert.StartsWith("application/json", request.Headers!["Content-Type"].Single());
        using var body = JsonDocument.Parse(request.Body!);
        var root = body.RootElement;
        Assert.Equal("noreply@versant.example", root.GetProperty("sender").GetProperty("email").GetString());
        Assert.Equal("AI-VERSANT", root.GetProperty("sender").GetProperty("name").GetString());
        Assert.Equal("thandi@example.org", root.GetProperty("to")[0].GetProperty("email").GetString());
        Assert.Equal("Welcome to AI-VERSANT", root.GetProperty("subject").GetString());
        Assert.Equal("<p>Hi Thandi,</p><p>welcome.</p>", root.GetProperty("htmlContent").GetString());
        Assert.Equal("Hi Thandi,\nwelcome.\n", root.GetProperty("textContent").GetString());
        // Brevo drops a second post with the same idempotencyKey (a UUID); the task id comes back in its webhooks.
        Assert.Equal(TaskUuid.For(taskId).ToString(), root.GetProperty("headers").GetProperty("idempotencyKey").GetString());
        Assert.Equal("task:" + taskId, root.GetProperty("headers").GetProperty("X-Mailin-custom").GetString());
        Assert.Equal(taskId, Assert.Single(root.GetProperty("tags").EnumerateArray()).GetString());
    }

    [Fact]
    public void TaskUuid_IsAVersion5Uuid_StablePerTask_AndDifferentBetweenTasks()
    {
        var uuid = TaskUuid.For("01JDQ6Z8K3M4N5P6Q7R8S9T0VW");

        Assert.Equal(uuid, TaskUuid.For("01JDQ6Z8K3M4N5P6Q7R8S9T0VW"));
        Assert.NotEqual(uuid, TaskUuid.For("01JDQ6Z8K3M4N5P6Q7R8S9T0VX"));
        Assert.Equal(5, uuid.Version);
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", uuid.ToString());
    }

    [Fact]
    public async Task Send_IsARefusedRequest_NotTheRecipientsFault_WhenA400IsAboutAnotherField()
    {
        Answer(400, """{"code":"invalid_parameter","message":"headers.idempotencyKey should be a valid UUID"}""");

        var result = await _host.Senders.Email.SendAsync(Messages.Email(), TestContext.Current.CancellationToken);

        Assert.Equal(SendingOptions.DefaultConfigurationFaultRetryAfter, Assert.IsType<SendResult.RequestRefused>(result).RetryAfter);
    }

    [Fact]
    public async Task Send_IsPermanent_WithTheProvidersReason_WhenTheAddressIsInvalid()
    {
        Answer(400, """{"code":"invalid_parameter","message":"email is not valid in to"}""");

        var result = await _host.Senders.Email.SendAsync(Messages.Email(to: "thandi@@example"), TestContext.Current.CancellationToken);

        var permanent = Assert.IsType<SendResult.PermanentFailure>(result);
        Assert.Equal("Brevo 400 invalid_parameter: email is not valid in to", permanent.Error);
    }

    [Fact]
    public async Task Send_IsTransient_HonouringBrevosResetHeader_WhenThrottled()
    {
        Answer(429, """{"code":"too_many_requests","message":"Too many requests"}""", headers: new() { ["x-sib-ratelimit-reset"] = "12" });

        var result = await _host.Senders.Email.SendAsync(Messages.Email(), TestContext.Current.CancellationToken);

        Assert.Equal(TimeSpan.FromSeconds(12), Assert.IsType<SendResult.TransientFailure>(result).RetryAfter);
    }

    [Fact]
    public async Task Send_PrefersRetryAfter_OverBrevosResetHeader()
    {
        Answer(429, "{}", headers: new() { ["Retry-After"] = SenderHost.Start.AddMinutes(2).ToString("R"), ["x-sib-ratelimit-reset"] = "12" });

        var result = await _host.Senders.Email.SendAsync(Messages.Email(), TestContext.Current.CancellationToken);

        Assert.Equal(TimeSpan.FromMinutes(2), Assert.IsType<SendResult.TransientFailure>(result).RetryAfter);
    }

    // A hidden HttpClient retry would wait on the fake clock forever: the timeout turns that into a failure.
    [Fact(Timeout = 15_000)]
    public async Task Send_IsTransient_AndCallsOnce_WhenTheProviderFails()
    {
        Answer(502, "<html>Bad Gateway</html>", contentType: "text/html");

        var result = await _host.Senders.Email.SendAsync(Messages.Email(), TestContext.Current.CancellationToken);

        Assert.IsType<SendResult.TransientFailure>(result);
        Assert.Single(_api.LogEntries);
    }

    [Fact]
    public async Task Send_IsARefusedRequestWithTheConfigurationWait_WhenTheKeyIsRejected()
    {
        Answer(401, """{"code":"unauthorized","message":"Key not found"}""");

        var result = await _host.Senders.Email.SendAsync(Messages.Email(), TestContext.Current.CancellationToken);

        var refused = Assert.IsType<SendResult.RequestRefused>(result);
        Assert.Equal(SendingOptions.DefaultConfigurationFaultRetryAfter, refused.RetryAfter);
        Assert.Contains("Key not found", refused.Error);
    }

    private void Answer(int status, string body, string contentType = "application/json", Dictionary<string, string>? headers = null)
    {
        var response = Response.Create().WithStatusCode(status).WithHeader("Content-Type", contentType).WithBody(body);
        foreach (var (name, value) in headers ?? [])
        {
            response = response.WithHeader(name, value);
        }

        _api.Given(Request.Create().WithPath("/v3/smtp/email").UsingPost()).RespondWith(response);
    }
}
