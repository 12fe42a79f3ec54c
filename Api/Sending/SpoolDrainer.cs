using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Api.Sending;

/// <summary>
/// Moves spooled notifications into Redis once it answers again, oldest file first. A file is deleted
/// only after its tasks are queued; the idempotency keys make a second drain of the same file harmless.
/// </summary>
public sealed partial class SpoolDrainer(
    NotificationSpool spool, NotificationDispatcher dispatcher, DeliveryLogWriter deliveryLog, IConnectionMultiplexer redis,
    IOptions<SpoolOptions> options, ILogger<SpoolDrainer> logger) : BackgroundService
{
    // Files whose notifications are queued but which could not be deleted (one drain runs at a time).
    private readonly HashSet<string> _queuedNotDeleted = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.DrainInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (!redis.IsConnected)
            {
                continue;
            }
            try
            {
                await DrainAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // A BackgroundService that throws stops the whole Api (and again at every start while the cause
                // stays): the spooled notifications wait for the next tick instead.
                LogDrainFailed(logger, ex);
            }
        }
    }

    /// <returns>How many files were drained.</returns>
    public async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        var drained = 0;
        foreach (var file in spool.List())
        {
            try
            {
                if (_queuedNotDeleted.Contains(file))
                {
                    // Queued at an earlier tick; only its delete failed. Queued again after the idempotency
                    // keys' window, it would be sent again.
                    File.Delete(file);
                    _queuedNotDeleted.Remove(file);
                    continue;
                }
                var requests = await NotificationSpool.ReadAsync(file, cancellationToken).ConfigureAwait(false);
                var results = await dispatcher.EnqueueAsync(requests).ConfigureAwait(false);
                deliveryLog.Queued(requests, results);
                _queuedNotDeleted.Add(file);
                File.Delete(file);
                _queuedNotDeleted.Remove(file);
                drained++;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // Redis went away again: keep the file, and the rest, for the next tick.
                LogDrainPaused(logger, ex.Message);
                break;
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or Notifications.Queue.InvalidNotificationException)
            {
                // Not a file this Api wrote whole; keep it aside for a person rather than retry it forever.
                LogUnreadable(logger, file, ex);
                try
                {
                    File.Move(file, file + ".unreadable", overwrite: true);
                }
                catch (Exception moveFailed) when (moveFailed is IOException or UnauthorizedAccessException)
                {
                    LogFileFailed(logger, file, moveFailed);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The file system refused this file (its owner or mode, a directory in its place): the others still
                // drain, and this one is tried again at the next tick, once a person has fixed it.
                LogFileFailed(logger, file, ex);
            }
        }
        if (drained > 0)
        {
            LogDrained(logger, drained);
        }
        return drained;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Drained {Count} spool files into the queue")]
    private static partial void LogDrained(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Spool drain paused: {Reason}")]
    private static partial void LogDrainPaused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Spooled file {File} could not be drained; it is tried again at the next tick")]
    private static partial void LogFileFailed(ILogger logger, string file, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Spool drain failed; it runs again at the next tick")]
    private static partial void LogDrainFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Spooled file {File} cannot be read; moved aside")]
    private static partial void LogUnreadable(ILogger logger, string file, Exception exception);
}
