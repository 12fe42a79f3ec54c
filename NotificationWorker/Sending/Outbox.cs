using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace NotificationWorker.Sending;

/// <summary>One message as the student would have received it, kept in the local outbox.</summary>
public sealed record OutboxMessage(
    string Id,
    DateTimeOffset CreatedAt,
    string TaskId,
    Channel Channel,
    string Recipient,
    string? Subject,
    string TextBody,
    string? HtmlBody);

public sealed record OutboxPage(IReadOnlyList<OutboxMessage> Items, int Total);

/// <summary>File layout of the outbox: one <c>{id}.json</c> per message, ids sort by creation time.</summary>
internal static partial class OutboxFiles
{
    public const string Extension = ".json";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = true,
    };

    public static string NewId(DateTimeOffset now, Channel channel, string taskId)
    {
        var safeTask = UnsafeIdChars().Replace(taskId, "_");
        if (safeTask.Length > 64)
        {
            safeTask = safeTask[..64];
        }

        // The random tail keeps two sends of one task in the same tick (a redelivery) from colliding.
        return $"{now.UtcDateTime:yyyyMMdd'T'HHmmssfffffff}Z-{SendingTelemetry.ChannelTag(channel)}-{safeTask}-{Guid.NewGuid().ToString("N")[..8]}";
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

/// <summary>
/// The default sender when no provider is configured: it keeps each message on local disk for a
/// person to read (the dashboard lists them through <see cref="OutboxReader"/>).
/// </summary>
public sealed class OutboxSender(Channel channel, IOptions<OutboxOptions> options, TimeProvider time) : IMessageSender
{
    private const int PruneEvery = 50;
    private int _writesSincePrune = PruneEvery - 1;

    public string Name => ProviderNames.Outbox;

    public Channel Channel => channel;

    public async Task<SendResult> SendAsync(OutgoingMessage message, CancellationToken ct)
    {
        var directory = options.Value.Directory!;
        var now = time.GetUtcNow();
        var stored = new OutboxMessage(
            OutboxFiles.NewId(now, message.Channel, message.TaskId), now, message.TaskId, message.Channel,
            message.Recipient, message.Subject, message.TextBody, message.HtmlBody);

        try
        {
            Directory.CreateDirectory(directory);
            var path = Path.Combine(directory, stored.Id + OutboxFiles.Extension);
            var temporary = path + ".tmp";
            // Write, flush to disk, then rename: a reader never sees half a file, and a crash leaves at most a .tmp.
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, useAsync: true))
            {
                await JsonSerializer.SerializeAsync(stream, stored, OutboxFiles.Json, ct);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new SendResult.TransientFailure(Name, $"could not write the outbox: {e.Message}", null);
        }

        if (Interlocked.Increment(ref _writesSincePrune) >= PruneEvery)
        {
            Interlocked.Exchange(ref _writesSincePrune, 0);
            Prune(directory, options.Value.MaxMessages);
        }

        return new SendResult.Sent(Name, stored.Id);
    }

    private static void Prune(string directory, int keep)
    {
        foreach (var stale in OutboxFiles.ListNewestFirst(directory).Skip(keep))
        {
            try
            {
                File.Delete(stale);
            }
            catch (IOException)
            {
                // Another worker process pruned it first.
            }
        }
    }
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
