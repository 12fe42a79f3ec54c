using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using YamlDotNet.Serialization;

namespace Api.Tests.Webhooks;

/// <summary>
/// The payload shapes the providers publish, read from the contract files beside these tests: BulkSMS's
/// <c>Message</c> schema from its OpenAPI document, and Brevo's transactional webhook event. A fixture the tests
/// feed the parsers must pass these first, so a test never proves the parser against a shape we made up.
/// </summary>
internal static class PublishedShapes
{
    private static readonly Lazy<JsonSchema> s_bulkSmsMessage = new(() =>
    {
        var document = ReadYaml("bulksms.openapi.yaml");
        return JsonSchema.FromText(document["components"]!["schemas"]!["Message"]!.ToJsonString());
    });

    private static readonly Lazy<JsonSchema> s_brevoEvent = new(() => JsonSchema.FromText(ReadYaml("brevo.transactional-webhook.yaml").ToJsonString()));

    /// <summary>Null when every message of the array passes BulkSMS's Message schema, else what failed.</summary>
    public static string? BulkSmsReportProblem(string payload)
    {
        var array = JsonNode.Parse(payload) as JsonArray ?? throw new ArgumentException("A status report is an array.", nameof(payload));
        return array.Select(m => Problem(s_bulkSmsMessage.Value, m)).FirstOrDefault(p => p is not null);
    }

    /// <summary>Null when the event passes Brevo's documented event shape, else what failed.</summary>
    public static string? BrevoEventProblem(string payload) => Problem(s_brevoEvent.Value, JsonNode.Parse(payload));

    private static string? Problem(JsonSchema schema, JsonNode? value)
    {
        var result = schema.Evaluate(value, new EvaluationOptions { OutputFormat = OutputFormat.List });
        return result.IsValid
            ? null
            : string.Join("; ", (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")));
    }

    private static JsonNode ReadYaml(string name)
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Webhooks", "Contracts", name));
        // Unquoted scalars as numbers and booleans, so "maxLength: 20" is the number 20 in the JSON.
        var graph = new DeserializerBuilder().WithAttemptingUnquotedStringTypeDeserialization().Build().Deserialize<object>(text);
        var json = new SerializerBuilder().JsonCompatible().Build().Serialize(graph);
        return JsonNode.Parse(json) ?? throw new InvalidDataException($"{name} is empty.");
    }
}
