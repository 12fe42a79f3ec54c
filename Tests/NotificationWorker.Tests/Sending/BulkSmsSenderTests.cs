using Notifications.Tasks;
using System.Text;
using System.Text.Json;
using NotificationWorker.Sending;
using NotificationWorker.Tests.Support;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace NotificationWorker.Tests.Sending;

/// <summary>BulkSMS JSON API v1 as a local WireMock server that answers like the real one.</summary>
public sealed class BulkSmsSenderTests : IAsyncLifetime
{
    private const string Username = "versant-user";
    private const string Password = "s3cret:pass";
    private readonly WireMockServer _api = WireMockServer.Start();
    private SenderHost _host = null!;

    public ValueTask InitializeAsync()
    {
        _host = SenderHost.Create(new Dictionary<string, string?>
        {
            ["Sending:BulkSms:BaseUrl"] = _api.Url + "/v1",
            // The old plan's environment variable names, as the worker reads them.
            ["BULKSMS_USERNAME"] = Username,
            ["BULKSMS_PASSWORD"] = Password,
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
    public async Task Send_PostsOneSubmissionEntryWithBasicAuth_AsTheOpenApiDocumentDeclaresIt()
    {
        Answer(201, """
            [{"id":"4512345678","type":"SENT","from":"","to":"+27831234567","body":"Hi Thandi, welcome to AI-VERSANT!",
              "encoding":"TEXT","protocolId":0,"messageClass":2,"submission":{"id":"2-00000000000123456789","date":"2026-11-26T09:00:00Z"},
              "status":{"id":"ACCEPTED.null","type":"ACCEPTED","subtype":null}}]
            """);
        var taskId = "01JDQ6Z8K3M4N5P6Q7R8S9T0VW";

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(taskId: taskId), TestContext.Current.CancellationToken);

        Assert.Equal(new SendResult.Sent(ProviderNames.BulkSms, "4512345678"), result);
        var request = Assert.Single(_api.LogEntries).RequestMessage!;
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1/messages", request.Path);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}")), request.Headers!["Authorization"].Single());
        Assert.StartsWith("application/json", request.Headers!["Content-Type"].Single());
        // An int32, as the document declares the parameter (a 53-bit number is refused by a validating server).
        var deduplicationId = int.Parse(request.Query!["deduplication-id"].Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(deduplicationId > 0);
        Assert.False(request.Query.ContainsKey("auto-unicode"));
        using var body = JsonDocument.Parse(request.Body!);
        var entry = Assert.Single(body.RootElement.EnumerateArray());
        Assert.Equal("+27831234567", Assert.Single(entry.GetProperty("to").EnumerateArray()).GetProperty("address").GetString());
        Assert.Equal("Hi Thandi, welcome to AI-VERSANT!", entry.GetProperty("body").GetString());
        Assert.Equal("TEXT", entry.GetProperty("encoding").GetString());
        Assert.Equal(1, entry.GetProperty("longMessageMaxParts").GetInt32());
        Assert.Equal(taskId[^20..], entry.GetProperty("userSuppliedId").GetString());
        Assert.False(entry.TryGetProperty("from", out _));
    }

    [Fact]
    public async Task Send_KeepsTheDeduplicationIdOfATask_AcrossRetries_AndGivesAnotherTaskAnother()
    {
        Answer(503, "Service Unavailable", contentType: "text/plain");
        var first = "dedup-" + Guid.NewGuid().ToString("N");
        var second = "dedup-" + Guid.NewGuid().ToString("N");

        foreach (var taskId in new[] { first, first, second })
        {
            await _host.Senders.Sms.SendAsync(Messages.Sms(taskId: taskId), TestContext.Current.CancellationToken);
        }

        var ids = _api.LogEntries.Select(e => e.RequestMessage!.Query!["deduplication-id"].Single()).ToList();
        Assert.Equal(3, ids.Count);
        Assert.Equal(ids[0], ids[1]);
        Assert.NotEqual(ids[0], ids[2]);
    }

    [Theory]
    [InlineData("AI-VERSANT", "ALPHANUMERIC")]
    [InlineData("+27831234500", "INTERNATIONAL")]
    [InlineData("REPLIABLE", "REPLIABLE")]
    public void Entry_SendsTheSenderIdAsAnObject_TypedAsBulkSmsTypesABareString(string from, string type)
    {
        var entry = BulkSmsSender.Entry(Messages.Sms(), new BulkSmsOptions { From = from });

        Assert.Equal(type, entry.From!.Type);
        Assert.Equal(type == "REPLIABLE" ? null : from, entry.From.Address);
    }

    [Fact]
    public void Entry_AllowsTheMessageItsParts_AsUnicode_WhenItHasTeluguText()
    {
        // 230 Telugu characters: UCS-2, 67 a part, so 4 parts (BulkSMS's default cap of 3 would refuse it).
        var message = Messages.Sms() with { TextBody = new string('\u0C24', 230) };

        var entry = BulkSmsSender.Entry(message, new BulkSmsOptions());

        Assert.Equal("UNICODE", entry.Encoding);
        Assert.Equal(4, entry.LongMessageMaxParts);
    }

    [Fact]
    public async Task Send_IsPermanent_WithTheProvidersReason_WhenTheNumberIsInvalid()
    {
        Answer(400, """
            {"type":"https://developer.bulksms.com/json/v1/errors#invalid-request","title":"Invalid Request","status":400,
             "detail":"The value '+2700' is not a valid phone number for the field 'to'"}
            """, contentType: "application/problem+json");

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(to: "+2700"), TestContext.Current.CancellationToken);

        var permanent = Assert.IsType<SendResult.PermanentFailure>(result);
        Assert.Contains("invalid-request", permanent.Error);
        Assert.Contains("not a valid phone number", permanent.Error);
    }

    [Fact]
    public async Task Send_IsTransient_HonouringRetryAfterSeconds_WhenThrottled()
    {
        Answer(429, """{"type":"https://developer.bulksms.com/json/v1/errors#too-many-requests","title":"Too Many Requests","status":429}""",
            headers: new() { ["Retry-After"] = "7" });

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        var transient = Assert.IsType<SendResult.TransientFailure>(result);
        Assert.Equal(TimeSpan.FromSeconds(7), transient.RetryAfter);
    }

    [Fact]
    public async Task Send_IsTransient_HonouringRetryAfterDate_WhenUnavailable()
    {
        var retryAt = SenderHost.Start.AddSeconds(90);
        Answer(503, "Service Unavailable", contentType: "text/plain", headers: new() { ["Retry-After"] = retryAt.ToString("R") });

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        var transient = Assert.IsType<SendResult.TransientFailure>(result);
        Assert.Equal(TimeSpan.FromSeconds(90), transient.RetryAfter);
    }

    // A hidden HttpClient retry would wait on the fake clock forever: the timeout turns that into a failure.
    [Fact(Timeout = 15_000)]
    public async Task Send_CallsTheProviderOnce_WhenItFails_BecauseTheQueueOwnsRetries()
    {
        Answer(503, "Service Unavailable", contentType: "text/plain");

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        var transient = Assert.IsType<SendResult.TransientFailure>(result);
        Assert.Null(transient.RetryAfter);
        Assert.Single(_api.LogEntries);
    }

    [Fact]
    public async Task Send_IsARefusedRequestWithTheConfigurationWait_WhenCredentialsAreRejected()
    {
        Answer(401, """{"type":"https://developer.bulksms.com/json/v1/errors#authentication-failed","title":"Authentication Failed","status":401}""",
            contentType: "application/problem+json");

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        var refused = Assert.IsType<SendResult.RequestRefused>(result);
        Assert.Equal(SendingOptions.DefaultConfigurationFaultRetryAfter, refused.RetryAfter);
        Assert.Contains("authentication-failed", refused.Error);
    }

    [Fact]
    public async Task Send_IsARefusedRequest_WhenTheAccountHasNoCredits()
    {
        Answer(403, """{"type":"https://developer.bulksms.com/json/v1/errors#insufficient-credits","title":"Insufficient Credits","status":403}""",
            contentType: "application/problem+json");

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        Assert.Equal(SendingOptions.DefaultConfigurationFaultRetryAfter, Assert.IsType<SendResult.RequestRefused>(result).RetryAfter);
    }

    [Fact]
    public async Task Send_IsARefusedRequest_NotTheStudentsFault_WhenA400IsAboutAnotherField()
    {
        Answer(400, """
            {"type":"https://developer.bulksms.com/json/v1/errors#invalid-request","title":"Invalid Request","status":400,
             "detail":"deduplication-id: numeric instance is greater than the required maximum (maximum: 2147483647)"}
            """, contentType: "application/problem+json");

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        Assert.Contains("deduplication-id", Assert.IsType<SendResult.RequestRefused>(result).Error);
    }

    [Fact]
    public async Task Send_IsTransient_WhenTheProviderCannotBeReached()
    {
        _api.Stop();

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        Assert.Contains("network error", Assert.IsType<SendResult.TransientFailure>(result).Error);
    }

    private void Answer(int status, string body, string contentType = "application/json", Dictionary<string, string>? headers = null)
    {
        var response = Response.Create().WithStatusCode(status).WithHeader("Content-Type", contentType).WithBody(body);
        foreach (var (name, value) in headers ?? [])
        {
            response = response.WithHeader(name, value);
        }

        _api.Given(Request.Create().WithPath("/v1/messages").UsingPost()).RespondWith(response);
    }
}
