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
    public async Task Send_PostsTheMessageWithBasicAuth_AndReturnsTheProviderMessageId()
    {
        Answer(201, """
            [{"id":"4512345678","type":"SENT","from":"","to":"+27831234567","body":"Hi Thandi, welcome to AI-VERSANT!",
              "encoding":"TEXT","protocolId":0,"messageClass":2,"submission":{"id":"2-00000000000123456789","date":"2026-11-26T09:00:00Z"},
              "status":{"id":"ACCEPTED.null","type":"ACCEPTED","subtype":null}}]
            """);

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        Assert.Equal(new SendResult.Sent(ProviderNames.BulkSms, "4512345678"), result);
        var request = Assert.Single(_api.LogEntries).RequestMessage!;
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1/messages", request.Path);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}")), request.Headers!["Authorization"].Single());
        Assert.StartsWith("application/json", request.Headers!["Content-Type"].Single());
        Assert.Equal(BulkSmsSender.DeduplicationId("task-1").ToString(), request.Query!["deduplication-id"].Single());
        Assert.Equal("true", request.Query["auto-unicode"].Single());
        using var body = JsonDocument.Parse(request.Body!);
        Assert.Equal("+27831234567", body.RootElement.GetProperty("to").GetString());
        Assert.Equal("Hi Thandi, welcome to AI-VERSANT!", body.RootElement.GetProperty("body").GetString());
        Assert.False(body.RootElement.TryGetProperty("from", out _));
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
    public async Task Send_IsTransientWithTheConfigurationWait_WhenCredentialsAreRejected()
    {
        Answer(401, """{"type":"https://developer.bulksms.com/json/v1/errors#authentication-failed","title":"Authentication Failed","status":401}""",
            contentType: "application/problem+json");

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        var transient = Assert.IsType<SendResult.TransientFailure>(result);
        Assert.Equal(SendingOptions.DefaultConfigurationFaultRetryAfter, transient.RetryAfter);
        Assert.Contains("authentication-failed", transient.Error);
    }

    [Fact]
    public async Task Send_IsTransient_WhenTheAccountHasNoCredits()
    {
        Answer(403, """{"type":"https://developer.bulksms.com/json/v1/errors#insufficient-credits","title":"Insufficient Credits","status":403}""",
            contentType: "application/problem+json");

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        Assert.Equal(SendingOptions.DefaultConfigurationFaultRetryAfter, Assert.IsType<SendResult.TransientFailure>(result).RetryAfter);
    }

    [Fact]
    public async Task Send_IsTransient_WhenTheProviderCannotBeReached()
    {
        _api.Stop();

        var result = await _host.Senders.Sms.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        Assert.Contains("network error", Assert.IsType<SendResult.TransientFailure>(result).Error);
    }

    [Fact]
    public void DeduplicationId_IsStablePerTask_AndDiffersBetweenTasks()
    {
        Assert.Equal(BulkSmsSender.DeduplicationId("task-1"), BulkSmsSender.DeduplicationId("task-1"));
        Assert.NotEqual(BulkSmsSender.DeduplicationId("task-1"), BulkSmsSender.DeduplicationId("task-2"));
        Assert.InRange(BulkSmsSender.DeduplicationId("task-1"), 1, (1L << 53) - 1);
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
