using System.Diagnostics;
using System.Threading.Channels;
using Api.Caching;
using Api.Hosting;
using Api.Sending;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using Notifications.Templates;

namespace Api.Forms;

/// <summary>A checked submission on its way in: the student's answers to an active form.</summary>
/// <param name="RequestKey">The request's Idempotency-Key, if it sent one: a retry with it queues nothing new.</param>
public sealed record SubmissionWork(Form Form, Student Student, IReadOnlyDictionary<string, string> Answers, string? RequestKey);

/// <summary>A stored submission and what became of its confirmation.</summary>
public sealed record SubmissionReceipt(FormSubmission Submission, DispatchResult Dispatched);

/// <summary>
/// Takes form submissions in batches: the submissions that arrive together are stored in one write,
/// their confirmations queued in one Redis call (or spooled in one flush), and each form's analytics
/// entry removed once. A request waits for its batch and no longer; when it is answered, its
/// submission is stored, its notifications are durable and the next analytics read includes it.
/// </summary>
/// <remarks>
/// Why a pipeline: every await a request makes costs a thread-pool hand-off and often a thread wake-up.
/// With the store, the queue and the cache each batching on its own, a submission still waited three
/// times; now it waits once. In the same benchmark run (bench/run.sh api) that took the CPU per
/// submission from 239–283 µs to 197–204 µs and p99 from 39 ms to 32 ms.
/// A batch that fails because of one submission's input is taken again one submission at a time, so
/// the error is that submission's own; any other failure (the store is down) fails the whole batch.
/// </remarks>
public sealed partial class SubmissionPipeline(
    IFormSubmissionStore submissions, NotificationTemplates templates, NotificationDispatcher dispatcher, ApiCache cache,
    ILogger<SubmissionPipeline> logger) : DrainingLoop
{
    /// <summary>Bounds one batch's store transaction (the worker may be waiting for SQLite's write lock).</summary>
    private const int MaxBatch = 256;

    // One of ServiceDefaults' product sources, so the batches are traced.
    private static readonly ActivitySource s_activitySource = new("Notifications.Api");

    private readonly Channel<PendingSubmission> _pending = Channel.CreateUnbounded<PendingSubmission>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>
    /// Stores the submission and queues its confirmation with the next batch. Cancelling before the batch
    /// starts stores nothing; after that the submission goes through and the wait ends with it.
    /// </summary>
    public Task<SubmissionReceipt> SubmitAsync(SubmissionWork work, CancellationToken cancellationToken)
    {
        var pending = new PendingSubmission(work, Activity.Current?.Context, cancellationToken);
        if (!_pending.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("The Api is shutting down and takes no more submissions; send it again.");
        }
        return pending.Completion.Task;
    }

    protected override void CompleteIntake() => _pending.Writer.TryComplete();

    protected override async Task RunAsync()
    {
        var batch = new List<PendingSubmission>(MaxBatch);
        while (await _pending.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && _pending.Reader.TryRead(out var next))
            {
                if (next.CancellationToken.IsCancellationRequested)
                {
                    next.Completion.TrySetCanceled(next.CancellationToken);
                }
                else
                {
                    batch.Add(next);
                }
            }
            if (batch.Count > 0)
            {
                await RunBatchAsync(batch).ConfigureAwait(false);
                batch.Clear();
            }
        }
    }

    private async Task RunBatchAsync(List<PendingSubmission> batch)
    {
        // The queued tasks carry this batch's trace; the batch links every request it serves.
        using var activity = s_activitySource.StartActivity("form_submissions.batch", ActivityKind.Internal, parentContext: default,
            links: batch.Where(p => p.RequestActivity is not null).Select(p => new ActivityLink(p.RequestActivity!.Value)));
        activity?.SetTag("submissions.count", batch.Count);
        try
        {
            if (batch.Count == 1)
            {
                await CompleteAsync(batch).ConfigureAwait(false);
                return;
            }
            try
            {
                await CompleteAsync(batch).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StoreException or ArgumentException)
            {
                // One submission's input (an unknown form, an over-long answer, a notification that breaks the
                // queue's rules) failed the batch before that step wrote anything: each one again, alone.
                LogBatchSplit(logger, batch.Count, ex.Message);
                foreach (var pending in batch)
                {
                    await RunAloneAsync(pending).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex)
        {
            foreach (var pending in batch)
            {
                pending.Completion.TrySetException(ex);
            }
        }
    }

    private async Task RunAloneAsync(PendingSubmission pending)
    {
        try
        {
            await CompleteAsync([pending]).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            pending.Completion.TrySetException(ex);
        }
    }

    /// <summary>Store, queue, invalidate, answer: in that order, so an answered submission is everywhere.</summary>
    private async Task CompleteAsync(IReadOnlyList<PendingSubmission> batch)
    {
        var stored = await submissions.CreateManyAsync(
            [.. batch.Select(p => new NewSubmission(p.Work.Form.Id, p.Work.Student.Id, p.Work.Student.RollNumber, p.Work.Answers))],
            CancellationToken.None).ConfigureAwait(false);

        var requests = new List<NotificationRequest>(batch.Count * 2);
        var firstRequest = new int[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            firstRequest[i] = requests.Count;
            requests.AddRange(Confirmation(batch[i].Work, stored[i]));
        }
        var dispatched = await dispatcher.DispatchAsync(requests, CancellationToken.None).ConfigureAwait(false);

        await Task.WhenAll(batch.Select(p => p.Work.Form.Id).Distinct(StringComparer.Ordinal)
            .Select(formId => cache.InvalidateAsync(CacheKeys.FormAnalytics(formId)))).ConfigureAwait(false);

        for (var i = 0; i < batch.Count; i++)
        {
            var count = (i + 1 < batch.Count ? firstRequest[i + 1] : requests.Count) - firstRequest[i];
            var taskIds = dispatched.Spooled ? [] : dispatched.TaskIds.Skip(firstRequest[i]).Take(count).ToArray();
            batch[i].Completion.TrySetResult(new SubmissionReceipt(stored[i], dispatched with { TaskIds = taskIds }));
        }
    }

    private NotificationRequest[] Confirmation(SubmissionWork work, FormSubmission submission)
    {
        var (form, student) = (work.Form, work.Student);
        var model = new NotificationModel { StudentName = student.Name, Username = student.RollNumber, FormTitle = form.Title, SubmittedAt = submission.SubmittedAt };
        var sms = templates.Render(TemplateNames.SubmissionConfirmation, NotificationType.Sms, model);
        var email = templates.Render(TemplateNames.SubmissionConfirmation, NotificationType.Email, model);
        var correlation = new Correlation { SubmissionId = submission.Id, StudentId = student.Id };
        // Keyed by the request (its Idempotency-Key, else the new submission): a retried request queues nothing
        // new, and neither does a spooled copy of a call that reached Redis after all.
        var requestKey = work.RequestKey ?? submission.Id;
        return
        [
            NotificationRequest.Sms(student.Phone, sms.TextBody) with { IdempotencyKey = $"submission:{requestKey}:sms", Correlation = correlation },
            NotificationRequest.Email(student.Email, email.Subject!, email.TextBody, email.HtmlBody) with
            {
                IdempotencyKey = $"submission:{requestKey}:email", Correlation = correlation,
            },
        ];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} submissions failed on one submission's input ({Reason}); taking them one at a time")]
    private static partial void LogBatchSplit(ILogger logger, int count, string reason);

    private sealed class PendingSubmission(SubmissionWork work, ActivityContext? requestActivity, CancellationToken cancellationToken)
    {
        public SubmissionWork Work { get; } = work;
        public ActivityContext? RequestActivity { get; } = requestActivity;
        public CancellationToken CancellationToken { get; } = cancellationToken;
        public TaskCompletionSource<SubmissionReceipt> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
