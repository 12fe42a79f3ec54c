using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Notifications.Tasks;

[JsonSerializable(typeof(NotificationTask))]
internal sealed partial class TaskJsonContext : JsonSerializerContext;

/// <summary>Serialises tasks with source-generated code: the queue's hot path does no reflection.</summary>
public static class TaskJson
{
    // Task JSON is never embedded in HTML, so "+" in phone numbers need not become "\u002B".
    private static readonly TaskJsonContext s_context = new(new JsonSerializerOptions
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    });

    public static byte[] Serialize(NotificationTask task) =>
        JsonSerializer.SerializeToUtf8Bytes(task, s_context.NotificationTask);

    /// <exception cref="JsonException">The payload is not a task in the old plan's schema.</exception>
    public static NotificationTask Deserialize(ReadOnlySpan<byte> json)
    {
        var task = JsonSerializer.Deserialize(json, s_context.NotificationTask)
            ?? throw new JsonException("The payload is JSON null, not a task.");
        // "data": null (what the legacy intake keeps of a rejected legacy task) is no task either: every
        // reader treats it as an unreadable payload and shows it, rather than failing on it later.
        return task.Data is null ? throw new JsonException("The task has no data.") : task;
    }
}
