using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Notifications.Tasks;

namespace Notifications.Outbox;

/// <summary>One message as the student would have received it, kept in the local outbox.</summary>
public sealed record OutboxMessage(
    string Id,
    DateTimeOffset CreatedAt,
    string TaskId,
    NotificationType Channel,
    string Recipient,
    string? Subject,
    string TextBody,
    string? HtmlBody);

public sealed record OutboxPage(IReadOnlyList<OutboxMessage> Items, int Total);

/// <summary>File layout of the outbox: one <c>{id}.json</c> per message, ids sort by creation time.</summary>
public static partial class OutboxFiles
{
    public const string Extension = ".json";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = true,
    };

    public static string NewId(DateTimeOffset now, NotificationType channel, string taskId)
    {
        var safeTask = UnsafeIdChars().Replace(taskId, "_");
        if (safeTask.Length > 64)
        {
            safeTask = safeTask[..64];
        }

        // The random tail keeps two sends of one task in the same tick (a redelivery) from colliding.
        return $"{now.UtcDateTime:yyyyMMdd'T'HHmmssfffffff}Z-{(channel == NotificationType.Sms ? "sms" : "email")}-{safeTask}-{Guid.NewGuid().ToString("N")[..8]}";
    }

    public static bool IsValidId(string id) => id.Length is > 0 and <= 200 && !UnsafeIdChars().IsMatch(id);

    /// <summary>Newest first: the ids start with a sortable UTC timestamp.</summary>
    public static string[] ListNewestFirst(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            return [];
        }

        var files = System.IO.Directory.GetFiles(directory, "*" + Extension);
        Array.Sort(files, (a, b) => string.CompareOrdinal(Path.GetFileName(b), Path.GetFileName(a)));
        return files;
    }

    [GeneratedRegex("[^A-Za-z0-9_.-]")]
    private static partial Regex UnsafeIdChars();
}

/// <summary>Reads the local outbox, newest first, for the dashboard and the API.</summary>
public sealed class OutboxReader(IOptions<OutboxOptions> options)
{
    public const int MaxPageSize = 200;

    public async Task<OutboxPage> ListAsync(int skip, int take, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(take);
        take = Math.Min(take, MaxPageSize);

        var files = OutboxFiles.ListNewestFirst(options.Value.Directory!);
        var items = new List<OutboxMessage>(take);
        foreach (var file in files.Skip(skip).Take(take))
        {
            if (await ReadAsync(file, ct) is { } message)
            {
                items.Add(message);
            }
        }

        return new OutboxPage(items, files.Length);
    }

    public async Task<OutboxMessage?> FindAsync(string id, CancellationToken ct) =>
        OutboxFiles.IsValidId(id)
            ? await ReadAsync(Path.Combine(options.Value.Directory!, id + OutboxFiles.Extension), ct)
            : null;

    private static async Task<OutboxMessage?> ReadAsync(string path, CancellationToken ct)
    {
        try
        {
            await using var stream = File.OpenRead(path);
            return await JsonSerializer.DeserializeAsync<OutboxMessage>(stream, OutboxFiles.Json, ct);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            // Pruned between listing and reading, or not ours: skip it.
            return null;
        }
    }
}

/// <summary>The local outbox used when no provider is configured (section <c>Sending:Outbox</c>).</summary>
/// <summary>Where the worker keeps outbox messages and where the Api reads them: both must name the same folder.</summary>
public sealed class OutboxOptions
{
    public const string SectionName = "Sending:Outbox";

    /// <summary>Folder of one JSON file per message; relative paths are under the content root. Default <c>.data/outbox</c>.</summary>
    public string? Directory { get; set; }

    /// <summary>The oldest files beyond this count are deleted, so a long-running dev box does not fill its disk.</summary>
    [Range(10, 1_000_000)]
    public int MaxMessages { get; set; } = 5000;
}
