using System.Text.Json;

namespace Api.Webhooks;

/// <summary>The payload cannot be read: a 400 naming <see cref="Field"/>, and nothing of the payload is stored.</summary>
public sealed class WebhookPayloadException(string field, string reason) : Exception($"{field}: {reason}")
{
    public string Field { get; } = field;
    public string Reason { get; } = reason;
}

/// <summary>Typed reads of a webhook payload that throw <see cref="WebhookPayloadException"/> with the element's path.</summary>
internal static class PayloadReads
{
    public static JsonElement Object(JsonElement parent, string name, string path) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object
            ? value
            : throw new WebhookPayloadException(Join(path, name), "is required and must be an object.");

    public static string String(JsonElement parent, string name, string path, int maxLength) =>
        OptionalString(parent, name, path, maxLength) ?? throw new WebhookPayloadException(Join(path, name), "is required and must be a non-empty string.");

    public static string? OptionalString(JsonElement parent, string name, string path, int maxLength)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            throw new WebhookPayloadException(Join(path, name), $"must be a string, not {value.ValueKind.ToString().ToLowerInvariant()}.");
        }
        var text = value.GetString()!.Trim();
        if (text.Length > maxLength)
        {
            throw new WebhookPayloadException(Join(path, name), $"is {text.Length} characters long; at most {maxLength} are allowed.");
        }
        return text.Length == 0 ? null : text;
    }

    public static double? OptionalNumber(JsonElement parent, string name, string path, double max)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number) && number >= 0 && number <= max
            ? number
            : throw new WebhookPayloadException(Join(path, name), $"must be a number from 0 to {max}.");
    }

    public static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
}
