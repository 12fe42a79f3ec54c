using System.Text.Encodings.Web;
using System.Text.Json;

namespace Web.Dashboard.Services;

/// <summary>A dead letter's payload as indented JSON, whether the Api sends it as an object or as the raw string.</summary>
public static class PayloadText
{
    // Relaxed escaping shows "+1555..." rather than "\u002B1555...": the text is HTML-encoded when rendered.
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Format(JsonElement payload)
    {
        switch (payload.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return "(no payload)";
            case JsonValueKind.String:
                var raw = payload.GetString() ?? "";
                try
                {
                    using var parsed = JsonDocument.Parse(raw);
                    return JsonSerializer.Serialize(parsed.RootElement, s_indented);
                }
                catch (JsonException)
                {
                    // Not JSON at all (the reason it died, perhaps): show it as it is.
                    return raw;
                }
            default:
                return JsonSerializer.Serialize(payload, s_indented);
        }
    }
}
