using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Notifications.Tasks;
using StackExchange.Redis;

namespace NotificationWorker.Sending;

/// <summary>
/// SMS through the BulkSMS JSON REST API v1: <c>POST messages</c> with Basic auth. The request follows
/// the published OpenAPI document (a copy of the operation is in Tests/NotificationWorker.Tests/Contracts):
/// an array of submission entries, recipients and sender as objects, an int32 deduplication-id.
/// </summary>
public sealed partial class BulkSmsSender(
    IHttpClientFactory httpClientFactory,
    IOptions<BulkSmsOptions> options,
    IOptions<SendingOptions> sendingOptions,
    SmsDeduplicationIds deduplicationIds,
    TimeProvider time,
    ILogger<BulkSmsSender> logger) : IMessageSender
{
    public const string HttpClientName = "bulksms";

    /// <summary>BulkSMS keeps at most 20 characters of <c>userSuppliedId</c>.</summary>
    public const int UserSuppliedIdMaxLength = 20;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Name => ProviderNames.BulkSms;

    public NotificationType Channel => NotificationType.Sms;

    public async Task<SendResult> SendAsync(OutgoingMessage message, CancellationToken ct)
    {
        var settings = options.Value;
        int deduplicationId;
        try
        {
            deduplicationId = await deduplicationIds.ForTaskAsync(message.TaskId).WaitAsync(ct);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Without its id a retry after a timeout could text twice: wait for Redis instead.
            return new SendResult.TransientFailure(Name, $"no deduplication id (Redis did not answer): {e.Message}", null);
        }

        // BulkSMS resubmits nothing with a deduplication-id it saw in the last 12 hours, so a retry after
        // a timeout (when we cannot know whether the first post landed) does not text twice.
        var path = $"messages?deduplication-id={deduplicationId}";
        var submission = Entry(message, settings);

        try
        {
            using var client = httpClientFactory.CreateClient(HttpClientName);
            using var content = ProviderHttp.JsonBody(new[] { submission }, Json);
            using var response = await client.PostAsync(path, content, ct);
            return response.IsSuccessStatusCode
                ? await ReadAcceptedAsync(response, ct)
                : await ClassifyErrorAsync(response, message, ct);
        }
        catch (Exception e) when (ProviderHttp.FromTransportException(Name, e, ct) is { } transient)
        {
            return transient;
        }
    }

    internal static SubmissionEntry Entry(OutgoingMessage message, BulkSmsOptions settings)
    {
        // The encoding is chosen here, not by auto-unicode, so the part count we allow is the one BulkSMS sends.
        var segments = SmsSegments.Count(message.TextBody, allowUcs2: settings.AutoUnicode);
        return new SubmissionEntry(
            To: [new Recipient(message.Recipient)],
            Body: message.TextBody,
            From: Sender.Parse(settings.From),
            Encoding: segments.Encoding == SmsEncoding.Ucs2 ? "UNICODE" : "TEXT",
            LongMessageMaxParts: Math.Max(1, segments.Parts),
            UserSuppliedId: UserSuppliedId(message.TaskId));
    }

    /// <summary>
    /// The task id as BulkSMS can keep it, to match its status reports: a ULID's last 20 characters are
    /// its 80 random bits and the end of its timestamp, unique enough to correlate on.
    /// </summary>
    internal static string UserSuppliedId(string taskId) =>
        taskId.Length <= UserSuppliedIdMaxLength ? taskId : taskId[^UserSuppliedIdMaxLength..];

    private async Task<SendResult> ReadAcceptedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var body = ProviderHttp.TryParseJson(await ProviderHttp.ReadBodyAsync(response, ct, maxChars: 1 << 20));
        // The answer is an array of the created messages (one per recipient); a single object is tolerated.
        var created = body is { ValueKind: JsonValueKind.Array } array && array.GetArrayLength() > 0 ? array[0] : body;
        var id = created.GetString("id");
        if (created is { ValueKind: JsonValueKind.Object } obj
            && obj.TryGetProperty("status", out var status)
            && ((JsonElement?)status).GetString("type") == "FAILED")
        {
            return new SendResult.PermanentFailure(Name, $"BulkSMS refused the message: {((JsonElement?)status).GetString("id")}");
        }

        // Accepted is accepted even if the body is not what we expect: sending again would text twice.
        return new SendResult.Sent(Name, id)
        {
            SmsParts = created.GetInt32("numberOfParts"),
            CreditCost = created.GetDouble("creditCost"),
        };
    }

    private async Task<SendResult> ClassifyErrorAsync(HttpResponseMessage response, OutgoingMessage message, CancellationToken ct)
    {
        var raw = await ProviderHttp.ReadBodyAsync(response, ct);
        var problem = ProviderHttp.TryParseJson(raw);
        var type = problem.GetString("type") ?? "";
        var detail = problem.GetString("detail")?.Trim() ?? problem.GetString("title") ?? raw;
        var status = (int)response.StatusCode;
        var error = $"BulkSMS {status} {TypeName(type)}: {detail}".TrimEnd(' ', ':');

        if (ProviderHttp.IsRetryableStatus(response.StatusCode))
        {
            return new SendResult.TransientFailure(Name, error, ProviderHttp.RetryAfter(response, time));
        }

        // 401 (wrong credentials) and 403 insufficient-credits are the account's fault, not the student's.
        if (response.StatusCode == HttpStatusCode.Unauthorized
            || (response.StatusCode == HttpStatusCode.Forbidden && type.EndsWith("insufficient-credits", StringComparison.OrdinalIgnoreCase)))
        {
            return Refused(error);
        }

        // A 400 about the recipient ("not a valid phone number for the field 'to'") fails the same way on
        // every attempt. A 400 about anything else is our request's fault: dead-lettering it would
        // dead-letter every SMS, one student after another.
        if (response.StatusCode == HttpStatusCode.BadRequest && !ProviderHttp.MentionsRecipient(detail, message.Recipient))
        {
            return Refused(error);
        }

        // The remaining 400s and 403s (destination blocked) are about this recipient.
        return new SendResult.PermanentFailure(Name, error);
    }

    private SendResult.RequestRefused Refused(string error)
    {
        LogRequestRefused(logger, error);
        return new SendResult.RequestRefused(Name, error, sendingOptions.Value.ConfigurationFaultRetryAfter);
    }

    private static string TypeName(string type)
    {
        var hash = type.LastIndexOf('#');
        return hash >= 0 ? type[(hash + 1)..] : type;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "BulkSMS refused our request, not the message; fix the configuration: {Error}")]
    private static partial void LogRequestRefused(ILogger logger, string error);

    internal sealed record SubmissionEntry(Recipient[] To, string Body, Sender? From, string Encoding, int LongMessageMaxParts, string UserSuppliedId);

    internal sealed record Recipient(string Address);

    /// <summary>The sender id as the API's object: its type follows the rule BulkSMS applies to a bare string.</summary>
    internal sealed record Sender(string Type, string? Address)
    {
        public static Sender? Parse(string? configured)
        {
            if (string.IsNullOrWhiteSpace(configured))
            {
                return null; // the account's default sender
            }
            var value = configured.Trim();
            if (value.Equals("REPLIABLE", StringComparison.OrdinalIgnoreCase))
            {
                return new Sender("REPLIABLE", null);
            }
            var numeric = value.TrimStart('+').All(char.IsAsciiDigit);
            return new Sender(numeric ? "INTERNATIONAL" : "ALPHANUMERIC", value);
        }
    }
}
