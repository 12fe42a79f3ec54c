using System.Text.Json;
using System.Text.Json.Serialization;

namespace Notifications.Tasks;

[JsonSerializable(typeof(NotificationTask))]
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowReadingFromString)]
internal sealed partial class TaskJsonContext : JsonSerializerContext;

/// <summary>Serialises tasks with source-generated code: the queue's hot path does no reflection.</summary>
public static class TaskJson
{
    public static byte[] Serialize(NotificationTask task) =>
        JsonSerializer.SerializeToUtf8Bytes(task, TaskJsonContext.Default.NotificationTask);

    /// <exception cref="JsonException">The payload is not a task in the old plan's schema.</exception>
    public static NotificationTask Deserialize(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, TaskJsonContext.Default.NotificationTask)
        ?? throw new JsonException("The payload is JSON null, not a task.");
}
