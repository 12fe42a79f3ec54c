using Notifications.Tasks;

namespace Notifications.Queue;

/// <summary>What a handler reports for one task.</summary>
public abstract record HandlerResult
{
    private HandlerResult() { }

    public static readonly HandlerResult Done = new Succeeded();

    public static HandlerResult Retry(string error, TimeSpan? retryAfter = null) => new TransientFailure(error, retryAfter);

    public static HandlerResult Permanent(string error) => new PermanentFailure(error);

    public static HandlerResult Postpone(string reason, TimeSpan delay) => new Postponed(reason, delay);

    /// <summary>Sent (or already sent before): the task is complete.</summary>
    public sealed record Succeeded : HandlerResult;

    /// <summary>Worth trying again later; <paramref name="RetryAfter"/> overrides the backoff.</summary>
    public sealed record TransientFailure(string Error, TimeSpan? RetryAfter) : HandlerResult;

    /// <summary>
    /// Not attempted (the provider's circuit is open, or its rate limit is spent): try again after
    /// <paramref name="Delay"/> without counting an attempt.
    /// </summary>
    public sealed record Postponed(string Reason, TimeSpan Delay) : HandlerResult;

    /// <summary>Will never succeed (an invalid number or address): dead-letter now.</summary>
    public sealed record PermanentFailure(string Error) : HandlerResult;
}

/// <summary>A task leased to this consumer.</summary>
public sealed class ClaimedTask
{
    internal ClaimedTask(NotificationTask task, int lane, bool alreadySent, Func<CancellationToken, Task> markSent)
    {
        Task = task;
        Lane = lane;
        AlreadySent = alreadySent;
        _markSent = markSent;
    }

    private readonly Func<CancellationToken, Task> _markSent;

    public NotificationTask Task { get; }

    internal int Lane { get; }

    /// <summary>1 for the first try.</summary>
    public int Attempt => Task.RetryCount + 1;

    /// <summary>
    /// An earlier delivery of this task was sent but not acknowledged (its consumer died or lost the
    /// lease). The handler must not send it again, only record it.
    /// </summary>
    public bool AlreadySent { get; }

    /// <summary>
    /// Records in Redis that the send succeeded, before anything else that could fail: if this
    /// process dies before the task is acknowledged, the next consumer sees <see cref="AlreadySent"/>.
    /// </summary>
    public Task MarkSentAsync(CancellationToken cancellationToken) => _markSent(cancellationToken);
}

/// <summary>Does the work of a task. Called concurrently, up to <see cref="QueueOptions.Concurrency"/> at once.</summary>
public interface INotificationHandler
{
    /// <remarks>
    /// An exception is treated as a transient failure; cancellation at shutdown gives the task back
    /// to the queue without counting an attempt.
    /// </remarks>
    ValueTask<HandlerResult> HandleAsync(ClaimedTask claimed, CancellationToken cancellationToken);

    /// <summary>
    /// The queue ended <paramref name="task"/> itself, with no handler involved: it dead-lettered a task
    /// recovered too often, or its caps removed a dead letter. The handler records it where its own
    /// outcomes go (the worker: the delivery log), so no task disappears without a trace.
    /// </summary>
    ValueTask QueueEndedAsync(NotificationTask task, string reason, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
