using System.Threading.Channels;
using Api.Hosting;
using Notifications.Queue;
using Notifications.Stores;

namespace Api.Sending;

/// <summary>
/// Appends the Api's <c>Queued</c> events to the delivery log in the background: the log is a view of
/// delivery, not its source of truth (the task is in Redis), so a request does not wait for one store
/// write per task. Events are written in batches, gathered for <see cref="GatherTime"/>; the log orders them
/// by time, so one that lands after the worker's <c>Sending</c> does not move a task backwards.
/// </summary>
public sealed partial class DeliveryLogWriter(IDeliveryLog deliveryLog, TimeProvider time, ILogger<DeliveryLogWriter> logger) : DrainingLoop
{
    private const int BatchSize = 500;

    /// <summary>
    /// How long a batch that is not full waits for more events. Each transaction rewrites the last page of every
    /// index it touches, so under load a few large batches cost far less than many small ones: in bench/run.sh api
    /// this took 11% off the CPU of a form submission. Until its event is written, the notifications endpoint
    /// answers for a task from the queue.
    /// </summary>
    private static readonly TimeSpan GatherTime = TimeSpan.FromMilliseconds(50);
    private readonly Channel<DeliveryEvent> _events = Channel.CreateUnbounded<DeliveryEvent>(new UnboundedChannelOptions { SingleReader = true });
    private long _unwritten;

    public void Queued(IReadOnlyList<NotificationRequest> requests, IReadOnlyList<EnqueueResult> results)
    {
        var now = time.GetUtcNow();
        for (var i = 0; i < requests.Count; i++)
        {
            if (results[i].Duplicate)
            {
                continue;
            }
            var request = requests[i];
            var recipient = (request.Type == Notifications.Tasks.NotificationType.Sms ? request.Data.Phone : request.Data.Email) ?? "";
            Interlocked.Increment(ref _unwritten);
            var written = _events.Writer.TryWrite(new DeliveryEvent(results[i].TaskId, DeliveryStatus.Queued, now, request.Type, recipient)
            {
                BatchId = request.Correlation?.BatchId,
                SubmissionId = request.Correlation?.SubmissionId,
                StudentId = request.Correlation?.StudentId,
            });
            if (!written)
            {
                // Stopped already (a producer still draining after this writer): the task is queued regardless.
                Interlocked.Decrement(ref _unwritten);
                LogStoppedWriter(logger, results[i].TaskId);
            }
        }
    }

    protected override void CompleteIntake() => _events.Writer.TryComplete();

    protected override async Task RunAsync()
    {
        var batch = new List<DeliveryEvent>(BatchSize);
        while (await _events.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            Gather();
            if (batch.Count < BatchSize)
            {
                await Task.Delay(GatherTime, time).ConfigureAwait(false);
                Gather();
            }
            try
            {
                await deliveryLog.AppendManyAsync(batch, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Nothing cancels this loop, so any exception is a failed write: log it and keep the loop alive.
                LogAppendFailed(logger, batch.Count, ex);
            }
            Interlocked.Add(ref _unwritten, -batch.Count);
            batch.Clear();
        }

        void Gather()
        {
            while (batch.Count < BatchSize && _events.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }
        }
    }

    /// <summary>Waits until every event written so far is in the log (tests and the benchmark).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        while (Interlocked.Read(ref _unwritten) > 0)
        {
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The delivery-log writer has stopped: task {TaskId} is queued but its Queued event is not logged")]
    private static partial void LogStoppedWriter(ILogger logger, string taskId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not log {Count} queued events; the tasks are queued regardless")]
    private static partial void LogAppendFailed(ILogger logger, int count, Exception exception);
}
