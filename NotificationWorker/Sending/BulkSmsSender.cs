using System.Buffers.Binary;
using System.IO.Hashing;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Notifications.Tasks;

namespace NotificationWorker.Sending;

/// <summary>SMS through the BulkSMS JSON API v1: <c>POST messages</c> with Basic auth.</summary>
public sealed partial class BulkSmsSender(
    IHttpClientFactory httpClientFactory,
    IOptions<BulkSmsOptions> options,
    IOptions<SendingOptions> sendingOptions,
    TimeProvider time,
    ILogger<BulkSmsSender> logger) : IMessageSender
{
    public const string HttpClientName = "bulksms";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Name => ProviderNames.BulkSms;

    public NotificationType Channel => NotificationType.Sms;

    public async Task<SendResult> SendAsync(OutgoingMessage message, CancellationToken ct)
    {
        var settings = options.Value;
        // BulkSMS drops a resubmission with the same deduplication-id for about 12 hours, so a retry
        // after a timeout (when we cannot know whether the first post landed) does not text twice.
        var path = $"messages?deduplication-id={DeduplicationId(message.TaskId)}"
            + (settings.AutoUnicode ? "&auto-unicode=true" : "");
        var submission = new Submission(message.Recipient, message.TextBody, string.IsNullOrWhiteSpace(settings.From) ? null : settings.From);

        try
        {
            using var client = httpClientFactory.CreateClient(HttpClientName);
            using var content = ProviderHttp.JsonBody(submission, Json);
            using var response = await client.PostAsync(path, content, ct);
            return response.IsSuccessStatusCode
                ? await ReadAcceptedAsync(response, ct)
                : await ClassifyErrorAsync(response, ct);
        }
        catch (Exception e) when (ProviderHttp.FromTransportException(Name, e, ct) is { } transient)
        {
            return transient;
        }
    }

    /// <summary>A positive 53-bit number derived from the task id: stable across retries, exact in any JSON number parser.</summary>
    internal static long DeduplicationId(string taskId)
    {
        var hash = XxHash64.Hash(Encoding.UTF8.GetBytes(taskId));
        return (long)(BinaryPrimitives.ReadUInt64BigEndian(hash) & 0x1F_FFFF_FFFF_FFFF) | 1;
    }

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
        return new SendResult.Sent(Name, id);
    }

    private async Task<SendResult> ClassifyErrorAsync(HttpResponseMessage response, CancellationToken ct)
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

        // 401 (wrong credentials) and 403 insufficient-credits are the account's fault, not the
        // student's: dead-lettering every queued SMS would turn an operator's fix into a mass manual
        // retry. They are transient with a long wait, logged as errors, and open the circuit breaker.
        if (response.StatusCode == HttpStatusCode.Unauthorized
            || (response.StatusCode == HttpStatusCode.Forbidden && type.EndsWith("insufficient-credits", StringComparison.OrdinalIgnoreCase)))
        {
            LogAccountFault(logger, error);
            return new SendResult.TransientFailure(Name, error, sendingOptions.Value.ConfigurationFaultRetryAfter);
        }

        // 400 (the number or body is invalid) and the remaining 403s (destination blocked) fail the
        // same way on every attempt.
        return new SendResult.PermanentFailure(Name, error);
    }

    private static string TypeName(string type)
    {
        var hash = type.LastIndexOf('#');
        return hash >= 0 ? type[(hash + 1)..] : type;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "BulkSMS rejected the account, not the message; fix the configuration: {Error}")]
    private static partial void LogAccountFault(ILogger logger, string error);

    private sealed record Submission(string To, string Body, string? From);
}
