using System.Globalization;
using System.Text.Json;
using Notifications.Receipts;
using Notifications.Stores;
using Notifications.Tasks;

namespace Api.Webhooks;

/// <summary>
/// BulkSMS's status-report and inbound-message webhook: an array of the API's <c>Message</c> objects
/// (<c>id</c>, <c>type</c> SENT or RECEIVED, <c>status</c> with <c>type</c> and <c>subtype</c>, <c>userSuppliedId</c>,
/// <c>creditCost</c>, <c>numberOfParts</c>, and for a reply <c>from</c> and <c>body</c>).
/// </summary>
/// <remarks>
/// The whole array is read before anything is stored: one element that cannot be read refuses the lot (400), so a
/// provider's bad payload never half-lands. BulkSMS gives no time of its own in a report; the time of arrival is used.
/// </remarks>
public static class BulkSmsStatusReports
{
    /// <summary>More than BulkSMS ever batches into one call; a larger array is refused, not read.</summary>
    public const int MaxMessages = 1_000;

    // status.type and status.subtype as the published Message schema enumerates them.
    private static readonly Dictionary<string, DeliveryStatus?> s_statusTypes = new(StringComparer.Ordinal)
    {
        ["ACCEPTED"] = DeliveryStatus.Sent,
        ["SCHEDULED"] = DeliveryStatus.Sent,
        ["SENT"] = DeliveryStatus.Sent,
        // BulkSMS does not know yet: the timeline shows it, the status does not move.
        ["UNKNOWN"] = DeliveryStatus.Sent,
        ["DELIVERED"] = DeliveryStatus.Delivered,
        ["FAILED"] = DeliveryStatus.Undelivered,
    };

    private static readonly HashSet<string> s_failedSubtypes = new(StringComparer.Ordinal) { "EXPIRED", "HANDSET_ERROR", "BLOCKED", "NOT_SENT" };

    /// <summary>Replies that mean "stop texting me", as carriers and regulators use them.</summary>
    private static readonly HashSet<string> s_optOutWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
    };

    public static IReadOnlyList<ProviderReport> Parse(JsonElement payload, DateTimeOffset receivedAt)
    {
        if (payload.ValueKind != JsonValueKind.Array)
        {
            throw new WebhookPayloadException("body", "must be a JSON array of BulkSMS Message objects.");
        }
        var count = payload.GetArrayLength();
        if (count is 0 or > MaxMessages)
        {
            throw new WebhookPayloadException("body", $"must hold from 1 to {MaxMessages} messages; it holds {count}.");
        }
        var reports = new List<ProviderReport>(count);
        var index = 0;
        foreach (var message in payload.EnumerateArray())
        {
            reports.Add(ParseMessage(message, $"[{index++}]", receivedAt));
        }
        return reports;
    }

    private static ProviderReport ParseMessage(JsonElement message, string path, DateTimeOffset receivedAt)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            throw new WebhookPayloadException(path, "must be a Message object.");
        }
        var id = PayloadReads.String(message, "id", path, FieldLimits.ProviderMessageId);
        var type = PayloadReads.String(message, "type", path, 16);
        var status = PayloadReads.Object(message, "status", path);
        var statusPath = PayloadReads.Join(path, "status");
        var statusType = PayloadReads.String(status, "type", statusPath, 32);
        var statusId = PayloadReads.String(status, "id", statusPath, 64);
        var subtype = PayloadReads.OptionalString(status, "subtype", statusPath, 32);
        if (!s_statusTypes.TryGetValue(statusType, out var outcome))
        {
            throw new WebhookPayloadException(PayloadReads.Join(statusPath, "type"),
                $"'{statusType}' is not a BulkSMS status; expected one of {string.Join(", ", s_statusTypes.Keys)}.");
        }
        if (subtype is not null && !s_failedSubtypes.Contains(subtype))
        {
            throw new WebhookPayloadException(PayloadReads.Join(statusPath, "subtype"),
                $"'{subtype}' is not a BulkSMS status subtype; expected one of {string.Join(", ", s_failedSubtypes)}.");
        }

        switch (type)
        {
            case "RECEIVED":
                return ParseReply(message, path);
            case "SENT":
                break;
            default:
                throw new WebhookPayloadException(PayloadReads.Join(path, "type"), $"'{type}' is not SENT or RECEIVED.");
        }

        var userSuppliedId = PayloadReads.OptionalString(message, "userSuppliedId", path, 20);
        var parts = PayloadReads.OptionalNumber(message, "numberOfParts", path, 255);
        var encoding = PayloadReads.OptionalString(message, "encoding", path, 16) switch
        {
            null or "BINARY" => (SmsEncoding?)null,
            "TEXT" => SmsEncoding.Gsm7,
            "UNICODE" => SmsEncoding.Ucs2,
            var other => throw new WebhookPayloadException(PayloadReads.Join(path, "encoding"), $"'{other}' is not TEXT, UNICODE or BINARY."),
        };
        var receipt = new ProviderReceipt(ProviderNames.BulkSms, $"{id}:{statusId}", outcome!.Value, receivedAt)
        {
            ProviderMessageId = id,
            Reason = outcome == DeliveryStatus.Delivered ? null : statusId,
            SmsParts = parts is { } p ? (int)p : null,
            SmsEncoding = encoding,
            CreditCost = PayloadReads.OptionalNumber(message, "creditCost", path, 10_000),
        };
        // A blocked number stays blocked, and BulkSMS bills every send to it.
        var suppress = statusType == "FAILED" && subtype == "BLOCKED" ? $"BulkSMS reported {statusId}" : null;
        return new ReceiptReport(receipt, suppress, SurelyOurs: userSuppliedId is not null);
    }

    private static ProviderReport ParseReply(JsonElement message, string path)
    {
        var from = PayloadReads.String(message, "from", path, 32);
        var body = PayloadReads.OptionalString(message, "body", path, 2_000) ?? "";
        var firstWord = (body.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "").Trim('.', '!');
        if (!s_optOutWords.Contains(firstWord))
        {
            return new IgnoredReport("a reply that is not an opt-out");
        }
        if (!from.TrimStart('+').All(char.IsAsciiDigit))
        {
            throw new WebhookPayloadException(PayloadReads.Join(path, "from"), "must be a phone number.");
        }
        return new OptOutReport(NotificationType.Sms, from, string.Create(CultureInfo.InvariantCulture, $"replied \"{firstWord.ToUpperInvariant()}\""),
            ProviderNames.BulkSms);
    }
}
