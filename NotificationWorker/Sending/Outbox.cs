using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Notifications.Tasks;

using Notifications.Outbox;

namespace NotificationWorker.Sending;

/// <summary>
/// The default sender when no provider is configured: it keeps each message on local disk for a
/// person to read (the dashboard lists them through <see cref="OutboxReader"/>), and, like a provider,
/// reports a little later what became of it (<see cref="OutboxReceipts"/>).
/// </summary>
public sealed class OutboxSender(NotificationType channel, IOptions<OutboxOptions> options, TimeProvider time, OutboxReceipts? receipts = null) : IMessageSender
{
    private const int PruneEvery = 50;
    private int _writesSincePrune = PruneEvery - 1;

    public string Name => ProviderNames.Outbox;

    public NotificationType Channel => channel;

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

        receipts?.Emit(message, stored.Id);
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

