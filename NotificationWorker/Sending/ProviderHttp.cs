using System.Net;
using System.Text.Json;
using Polly.Timeout;

namespace NotificationWorker.Sending;

/// <summary>What the HTTP providers share: reading Retry-After and mapping transport failures.</summary>
internal static partial class ProviderHttp
{
    private const int MaxErrorBodyChars = 500;
    private const HttpStatusCode TooEarly = (HttpStatusCode)425;

    /// <summary>Retry-After as delta-seconds or HTTP-date; a date in the past means "now".</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - time.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
    }

    /// <summary>A buffered JSON body: sent with Content-Length rather than chunked, which every API gateway takes.</summary>
    public static StringContent JsonBody<T>(T value, JsonSerializerOptions options) =>
        new(JsonSerializer.Serialize(value, options), System.Text.Encoding.UTF8, "application/json");

    public static bool IsRetryableStatus(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests or TooEarly
        || (int)status >= 500;

    /// <summary>
    /// Whether a 400's text is about the recipient (it names the address, or the <c>to</c> field) rather
    /// than about our request. Only the former may dead-letter the task.
    /// </summary>
    public static bool MentionsRecipient(string error, string recipient) =>
        error.Contains(recipient, StringComparison.OrdinalIgnoreCase)
        || (recipient.StartsWith('+') && error.Contains(recipient[1..], StringComparison.Ordinal))
        || RecipientField().IsMatch(error);

    [System.Text.RegularExpressions.GeneratedRegex(@"(['""`]to['""`]|(^|\s)to\s*:|\b(in|for|field)\s+['""`]?to\b|\bto\s+(field|address|number)\b|\b(phone number|email address|recipient|mailbox)\b)",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex RecipientField();

    /// <summary>
    /// A transport failure (connection refused, reset, DNS, timeout) says nothing about the message:
    /// transient. Returns null for exceptions that are not transport failures, which then surface as bugs.
    /// </summary>
    public static SendResult? FromTransportException(string provider, Exception exception, CancellationToken ct) => exception switch
    {
        OperationCanceledException when ct.IsCancellationRequested => null,
        TimeoutRejectedException => new SendResult.TransientFailure(provider, "timed out waiting for the provider", null),
        // HttpClient.Timeout surfaces as TaskCanceledException without our token being cancelled.
        TaskCanceledException => new SendResult.TransientFailure(provider, "timed out waiting for the provider", null),
        HttpRequestException http => new SendResult.TransientFailure(provider, $"network error: {http.Message}", null),
        IOException io => new SendResult.TransientFailure(provider, $"network error: {io.Message}", null),
        _ => null,
    };

    public static async Task<string> ReadBodyAsync(HttpResponseMessage response, CancellationToken ct, int maxChars = MaxErrorBodyChars)
    {
        try
        {
            var body = await response.Content.ReadAsStringAsync(ct);
            return body.Length <= maxChars ? body : body[..maxChars];
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return "";
        }
    }

    public static JsonElement? TryParseJson(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static string? GetString(this JsonElement? element, string property) =>
        element is { ValueKind: JsonValueKind.Object } obj && obj.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    public static int? GetInt32(this JsonElement? element, string property) =>
        element is { ValueKind: JsonValueKind.Object } obj && obj.TryGetProperty(property, out var value)
            && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= 0
            ? number
            : null;

    /// <summary>A non-negative finite number, else null: a provider's odd answer must not fail a send it accepted.</summary>
    public static double? GetDouble(this JsonElement? element, string property) =>
        element is { ValueKind: JsonValueKind.Object } obj && obj.TryGetProperty(property, out var value)
            && value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number) && number >= 0
            ? number
            : null;
}
