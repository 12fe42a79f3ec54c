using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Notifications.Tasks;

namespace NotificationWorker.Sending;

/// <summary>
/// Email through Brevo's transactional API: <c>POST smtp/email</c> with the <c>api-key</c> header. Every
/// send carries <c>headers.idempotencyKey</c>, a UUID derived from the task id, so a retry after a
/// timeout (the first post may have landed) is not emailed twice, and the task id as a tag and in
/// <c>X-Mailin-custom</c>, which Brevo's webhooks send back.
/// </summary>
public sealed partial class BrevoEmailSender(
    IHttpClientFactory httpClientFactory,
    IOptions<BrevoOptions> options,
    IOptions<SendingOptions> sendingOptions,
    TimeProvider time,
    ILogger<BrevoEmailSender> logger) : IMessageSender
{
    public const string HttpClientName = "brevo";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Name => ProviderNames.Brevo;

    public NotificationType Channel => NotificationType.Email;

    public async Task<SendResult> SendAsync(OutgoingMessage message, CancellationToken ct)
    {
        var settings = options.Value;
        var email = new TransactionalEmail(
            new Address(settings.SenderEmail!, NullIfEmpty(settings.SenderName)),
            [new Address(message.Recipient, null)],
            message.Subject ?? "",
            NullIfEmpty(message.HtmlBody),
            message.TextBody,
            new Dictionary<string, string>
            {
                ["idempotencyKey"] = TaskUuid.For(message.TaskId).ToString(),
                ["X-Mailin-custom"] = "task:" + message.TaskId,
            },
            [message.TaskId]);

        try
        {
            using var client = httpClientFactory.CreateClient(HttpClientName);
            using var content = ProviderHttp.JsonBody(email, Json);
            using var response = await client.PostAsync("smtp/email", content, ct);
            var body = ProviderHttp.TryParseJson(await ProviderHttp.ReadBodyAsync(response, ct, maxChars: 64 * 1024));
            return response.IsSuccessStatusCode
                ? new SendResult.Sent(Name, body.GetString("messageId"))
                : Classify(response, body, message);
        }
        catch (Exception e) when (ProviderHttp.FromTransportException(Name, e, ct) is { } transient)
        {
            return transient;
        }
    }

    private SendResult Classify(HttpResponseMessage response, JsonElement? body, OutgoingMessage message)
    {
        var status = (int)response.StatusCode;
        var code = body.GetString("code");
        var error = $"Brevo {status} {code}: {body.GetString("message")}".TrimEnd(' ', ':');

        if (ProviderHttp.IsRetryableStatus(response.StatusCode))
        {
            return new SendResult.TransientFailure(Name, error, ProviderHttp.RetryAfter(response, time) ?? RateLimitReset(response));
        }

        // 401 (unknown key), 402 (not_enough_credits) and 403 (permission_denied, e.g. an IP not
        // allowed) are the account's fault; a 400 that is not about the recipient is our request's.
        // Either way every email would fail alike: postpone, so an operator's fix delivers the backlog.
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.PaymentRequired or HttpStatusCode.Forbidden
            || !ProviderHttp.MentionsRecipient(error, message.Recipient))
        {
            LogRequestRefused(logger, error);
            return new SendResult.RequestRefused(Name, error, sendingOptions.Value.ConfigurationFaultRetryAfter);
        }

        // 400 invalid_parameter about the address: it is invalid every time.
        return new SendResult.PermanentFailure(Name, error);
    }

    /// <summary>Brevo's own throttling header: seconds until the window resets.</summary>
    private static TimeSpan? RateLimitReset(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-sib-ratelimit-reset", out var values)
        && double.TryParse(values.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
        && seconds >= 0
            ? TimeSpan.FromSeconds(seconds)
            : null;

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    [LoggerMessage(Level = LogLevel.Error, Message = "Brevo refused our request, not the message; fix the configuration: {Error}")]
    private static partial void LogRequestRefused(ILogger logger, string error);

    private sealed record Address(string Email, string? Name);

    private sealed record TransactionalEmail(Address Sender, Address[] To, string Subject, string? HtmlContent, string TextContent,
        Dictionary<string, string> Headers, string[] Tags);
}
