using System.ComponentModel.DataAnnotations;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using Notifications.Stores;
using StackExchange.Redis;

namespace Api.Sending;

/// <summary>The <c>OutboxRelay</c> section.</summary>
public sealed class OutboxRelayOptions
{
    public const string SectionName = "OutboxRelay";

    /// <summary>Notifications read from the outbox and enqueued per round trip.</summary>
    [Range(1, NotificationQueue.EnqueueChunkSize)]
    public int BatchSize { get; set; } = 500;

    /// <summary>
    /// How long the relay waits without a signal before it looks again: what another Api instance left when it
    /// crashed, or what a failed move (a Redis timeout without a disconnect) left, is moved within this time.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Moves the outbox into the Redis queue. A write that stored notifications calls <see cref="Notify"/> after its
/// commit and the relay moves them at once; it also moves whatever waits at start, when Redis comes back
/// (<c>ConnectionRestored</c>), and every <see cref="OutboxRelayOptions.SweepInterval"/>. An entry is removed
/// from the outbox only after Redis has it; a crash in between moves it again, and the task's own id and
/// idempotency key make the second move add nothing.
/// </summary>
/// <remarks>
/// With this, Redis being down needs no path of its own: a write answers once the store has committed, and the
/// relay catches up when Redis answers again.
/// </remarks>
public sealed partial class OutboxRelay(
    INotificationOutbox outbox, NotificationQueue queue, IConnectionMultiplexer redis, IOptions<OutboxRelayOptions> options,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    // One pending signal is enough: a round moves everything committed before it starts.
    private readonly Channel<bool> _signals = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Asks for a round: called after a transaction that stored notifications has committed.</summary>
    public void Notify() => _signals.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        redis.ConnectionRestored += OnConnectionRestored;
        try
        {
            var sweep = options.Value.SweepInterval;
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await MoveAllAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The store failed (Redis failures are handled in MoveAllAsync): the next signal or sweep tries again.
                    LogRoundFailed(logger, ex);
                }
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(sweep);
                try
                {
                    await _signals.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // The sweep: look again without a signal.
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping; what is left waits in the outbox for the next start.
        }
        finally
        {
            redis.ConnectionRestored -= OnConnectionRestored;
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) => Notify();

    /// <summary>Moves every entry the outbox has, oldest first, until it is empty or Redis fails.</summary>
    /// <returns>How many notifications were moved.</returns>
    public async Task<int> MoveAllAsync(CancellationToken cancellationToken)
    {
        var moved = 0;
        while (redis.IsConnected)
        {
            var entries = await outbox.ReadOldestAsync(options.Value.BatchSize, cancellationToken).ConfigureAwait(false);
            if (entries.Count == 0)
            {
                break;
            }
            var tasks = new List<PreparedTask>(entries.Count);
            foreach (var entry in entries)
            {
                try
                {
                    tasks.Add(PreparedTask.FromBody(entry.Body));
                }
                catch (InvalidNotificationException ex)
                {
                    // Only this Api writes the outbox, so this is a damaged row: it is logged and removed below
                    // rather than retried at every round ahead of everything behind it.
                    LogUnreadable(logger, entry.TaskId, ex.Message);
                }
            }
            try
            {
                var results = await queue.EnqueueManyAsync(tasks, cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < results.Count; i++)
                {
                    if (results[i].Duplicate && results[i].TaskId != tasks[i].Task.Id)
                    {
                        // Another task already carries this notification's idempotency key: the student gets that one.
                        LogDuplicate(logger, tasks[i].Task.Id, results[i].TaskId);
                    }
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // Redis went away (or is too slow): the entries stay for the reconnect, a signal or the sweep.
                LogMovePaused(logger, entries.Count, ex.Message);
                break;
            }
            // Cancelled or not, Redis has them now: remove them, or the next start would move them again.
            await outbox.RemoveAsync([.. entries.Select(e => e.TaskId)], CancellationToken.None).ConfigureAwait(false);
            moved += tasks.Count;
        }
        return moved;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The outbox relay paused with {Count} notifications waiting: {Reason}")]
    private static partial void LogMovePaused(ILogger logger, int count, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "An outbox round failed; the next signal or sweep tries again")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox entry {TaskId} is not a readable task and is removed: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string taskId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} was not queued: task {ExistingTaskId} has its idempotency key")]
    private static partial void LogDuplicate(ILogger logger, string taskId, string existingTaskId);
}
