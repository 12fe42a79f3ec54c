using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Notifications.Benchmarks.Chaos;

/// <summary>One request a provider received: what the student would get, and the key the provider would drop a repeat by.</summary>
/// <param name="Channel">"sms" or "email".</param>
/// <param name="Recipient">The phone number or email address.</param>
/// <param name="Content">The SMS text, or the email's subject: what tells one notification from another for a recipient.</param>
/// <param name="IdempotencyKey">BulkSMS's <c>deduplication-id</c>, Brevo's <c>headers.idempotencyKey</c>; null when the request had none.</param>
internal sealed record ProviderRequest(string Channel, string Recipient, string Content, string? IdempotencyKey, DateTimeOffset ReceivedAt);

/// <summary>
/// A BulkSMS and a Brevo on loopback that accept every send (201, with the answer each provider
/// documents) and record it. They live in the chaos process, which nothing kills, so the record is complete.
/// </summary>
internal sealed class ProviderRecorder : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ProviderRequest> _requests = new();
    private long _nextId;

    private ProviderRecorder(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public IReadOnlyCollection<ProviderRequest> Requests => _requests;

    public static async Task<ProviderRecorder> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var recorder = new ProviderRecorder(app);
        app.MapPost("/bulksms/v1/messages", (Func<HttpContext, Task<IResult>>)recorder.BulkSmsAsync);
        app.MapPost("/brevo/v3/smtp/email", (Func<HttpContext, Task<IResult>>)recorder.BrevoAsync);
        await app.StartAsync();
        recorder.BaseUrl = app.Urls.First().TrimEnd('/');
        return recorder;
    }

    // BulkSMS: a JSON array of submissions, each with "to" (objects with "address") and "body";
    // the deduplication id is a query parameter. The answer is the array of created messages.
    private async Task<IResult> BulkSmsAsync(HttpContext context)
    {
        using var body = await JsonDocument.ParseAsync(context.Request.Body);
        var key = context.Request.Query["deduplication-id"].FirstOrDefault();
        var created = new List<object>();
        foreach (var submission in body.RootElement.EnumerateArray())
        {
            var text = submission.GetProperty("body").GetString() ?? "";
            foreach (var to in submission.GetProperty("to").EnumerateArray())
            {
                var address = to.GetProperty("address").GetString() ?? "";
                _requests.Enqueue(new ProviderRequest("sms", address, text, key, DateTimeOffset.UtcNow));
                created.Add(new { id = Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture), type = "SENT", to = address, body = text, status = new { type = "ACCEPTED", id = "ACCEPTED" } });
            }
        }
        return Results.Json(created, statusCode: StatusCodes.Status201Created);
    }

    // Brevo: one email per POST, "to" an array of {email}, the idempotency key in "headers".
    private async Task<IResult> BrevoAsync(HttpContext context)
    {
        using var body = await JsonDocument.ParseAsync(context.Request.Body);
        var root = body.RootElement;
        var subject = root.GetProperty("subject").GetString() ?? "";
        var key = root.TryGetProperty("headers", out var headers) && headers.TryGetProperty("idempotencyKey", out var k) ? k.GetString() : null;
        foreach (var to in root.GetProperty("to").EnumerateArray())
        {
            _requests.Enqueue(new ProviderRequest("email", to.GetProperty("email").GetString() ?? "", subject, key, DateTimeOffset.UtcNow));
        }
        return Results.Json(new { messageId = $"<{Interlocked.Increment(ref _nextId)}@chaos.local>" }, statusCode: StatusCodes.Status201Created);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
