using System.Text.Json;
using Microsoft.Extensions.Options;
using Notifications.Queue;

namespace Api.Sending;

/// <summary>
/// A durable local queue for notifications Redis could not take: one JSON file per write (a request's
/// notifications, or a whole batch of form submissions'), written to a temporary name, flushed to disk
/// and then renamed, so a file either holds a whole write or does not exist. Every spooled request carries an idempotency key, so draining a file twice (a crash
/// between enqueue and delete) queues it once.
/// </summary>
public sealed class NotificationSpool
{
    private const string Extension = ".json";
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private readonly string _directory;

    public NotificationSpool(IOptions<SpoolOptions> options, IHostEnvironment environment)
    {
        _directory = Path.GetFullPath(options.Value.Directory, environment.ContentRootPath);
        System.IO.Directory.CreateDirectory(_directory);
    }

    public string Directory => _directory;

    /// <summary>Spooled files still to drain (each holds one or more notifications).</summary>
    public int FileCount => System.IO.Directory.EnumerateFiles(_directory, "*" + Extension).Count();

    public async Task WriteAsync(IReadOnlyList<NotificationRequest> requests, CancellationToken cancellationToken)
    {
        if (requests.Any(r => r.IdempotencyKey is null))
        {
            throw new InvalidOperationException("Spooled notifications need idempotency keys, or a drain after a crash could queue them twice.");
        }
        // Names sort by time, so the drain keeps the order requests were answered in.
        var name = Notifications.Tasks.TaskIds.New();
        var temporary = Path.Combine(_directory, name + ".tmp");
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            {
                await JsonSerializer.SerializeAsync(file, requests, s_json, cancellationToken).ConfigureAwait(false);
                // The caller answers 2xx after this: the bytes must be on disk, not in the page cache.
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, Path.Combine(_directory, name + Extension));
        }
        catch
        {
            // A full disk or a cancelled write leaves no half file behind; the caller gets the write's error.
            try
            {
                File.Delete(temporary);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The write's error is the one to report.
            }
            throw;
        }
    }

    /// <summary>Spooled files, oldest first.</summary>
    public IReadOnlyList<string> List()
    {
        var files = System.IO.Directory.GetFiles(_directory, "*" + Extension);
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    public static async Task<IReadOnlyList<NotificationRequest>> ReadAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        return await JsonSerializer.DeserializeAsync<List<NotificationRequest>>(file, s_json, cancellationToken).ConfigureAwait(false) ?? [];
    }
}
