using System.Text.Json;
using Notifications.Receipts;
using Notifications.Stores;
using Notifications.Tasks;

namespace Api.Webhooks;

/// <summary>
/// Brevo's transactional email webhook: one event per POST, a JSON object with <c>event</c>, <c>email</c>,
/// <c>message-id</c>, <c>ts_event</c> (seconds, UTC), <c>reason</c> for bounces and errors, and the
/// <c>X-Mailin-custom</c> header the worker set to <c>task:&lt;task id&gt;</c>.
/// </summary>
public static class BrevoEvents
{
    public const string TaskHeaderPrefix = "task:";

    private sealed record Meaning(DeliveryStatus Status, bool Suppress);

    // Events that change what we know of a message. soft_bounce and deferred are Brevo still trying: shown in the
    // timeline (as Sent, with the reason), never final; a later "delivered" or "hard_bounce" settles it.
    private static readonly Dictionary<string, Meaning> s_events = new(StringComparer.Ordinal)
    {
        ["request"] = new(DeliveryStatus.Sent, false),
        ["deferred"] = new(DeliveryStatus.Sent, false),
        ["soft_bounce"] = new(DeliveryStatus.Sent, false),
        ["delivered"] = new(DeliveryStatus.Delivered, false),
        ["hard_bounce"] = new(DeliveryStatus.Bounced, true),
        ["invalid_email"] = new(DeliveryStatus.Bounced, true),
        // Brevo refused to send: the address is on its own block list (an earlier bounce or complaint).
        ["blocked"] = new(DeliveryStatus.Undelivered, true),
        ["error"] = new(DeliveryStatus.Undelivered, false),
        ["spam"] = new(DeliveryStatus.Complained, true),
        ["unsubscribed"] = new(DeliveryStatus.Complained, true),
    };

    // Engagement events: understood, not a delivery status, not stored.
    private static readonly HashSet<string> s_ignored = new(StringComparer.Ordinal)
    {
        "opened", "unique_opened", "click", "proxy_open", "unique_proxy_open", "first_opening", "list_addition",
    };

    // Seconds from 2000 to 9999: a ts_event outside is not a time Brevo sends.
    private const long MinSeconds = 946_684_800, MaxSeconds = 253_402_300_799;

    public static ProviderReport Parse(JsonElement payload)
    {
        if (payload.ValueKind != JsonValueKind.Object)
        {
            throw new WebhookPayloadException("body", "must be one Brevo event, a JSON object.");
        }
        var name = PayloadReads.String(payload, "event", "", 32);
        if (s_ignored.Contains(name))
        {
            return new IgnoredReport($"the '{name}' event");
        }
        if (!s_events.TryGetValue(name, out var meaning))
        {
            throw new WebhookPayloadException("event", $"'{name}' is not a Brevo transactional event this Api reads; expected one of " +
                $"{string.Join(", ", s_events.Keys.Concat(s_ignored))}.");
        }
        var messageId = PayloadReads.OptionalString(payload, "message-id", "", FieldLimits.ProviderMessageId);
        var custom = PayloadReads.OptionalString(payload, "X-Mailin-custom", "", 256);
        var taskId = custom is not null && custom.StartsWith(TaskHeaderPrefix, StringComparison.Ordinal) ? custom[TaskHeaderPrefix.Length..].Trim() : null;
        if (messageId is null && string.IsNullOrEmpty(taskId))
        {
            throw new WebhookPayloadException("message-id", "is required (or X-Mailin-custom naming the task).");
        }
        _ = PayloadReads.String(payload, "email", "", FieldLimits.Email);
        var at = ReadTime(payload);
        var reason = PayloadReads.OptionalString(payload, "reason", "", FieldLimits.LastError);
        var seconds = at.ToUnixTimeSeconds();
        var receipt = new ProviderReceipt(ProviderNames.Brevo, $"{messageId ?? taskId}:{name}:{seconds}", meaning.Status, at)
        {
            ProviderMessageId = messageId,
            TaskId = string.IsNullOrEmpty(taskId) ? null : taskId,
            Reason = meaning.Status == DeliveryStatus.Delivered ? null : reason is null ? name : $"{name}: {reason}",
        };
        return new ReceiptReport(receipt, meaning.Suppress ? $"Brevo reported {name}" + (reason is null ? "" : $": {reason}") : null,
            SurelyOurs: receipt.TaskId is not null);
    }

    private static DateTimeOffset ReadTime(JsonElement payload)
    {
        if (!payload.TryGetProperty("ts_event", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw new WebhookPayloadException("ts_event", "is required: the event's time in seconds (UTC).");
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var seconds) && seconds is >= MinSeconds and <= MaxSeconds
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : throw new WebhookPayloadException("ts_event", "must be a time in whole seconds since 1970 (UTC).");
    }
}
