using Api.Caching;
using Api.Idempotency;
using Api.Sending;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using Notifications.Templates;

namespace Api.Forms;

/// <summary>A checked submission on its way in: the student's answers to an active form.</summary>
/// <param name="RequestKey">The request's Idempotency-Key, if it sent one: a retry with it stores and queues nothing new.</param>
public sealed record SubmissionWork(Form Form, Student Student, IReadOnlyDictionary<string, string> Answers, string? RequestKey);

/// <summary>A stored submission's id and its confirmation's task ids (none when it was stored by an earlier request).</summary>
public sealed record SubmissionReceipt(string SubmissionId, IReadOnlyList<string> NotificationIds);

/// <summary>
/// Stores a form submission with its confirmation (an SMS and an email) in one transaction of the system of
/// record, wakes the outbox relay, and removes the form's analytics entry. When it returns, the submission and
/// its confirmation are durable, whether Redis answers or not.
/// </summary>
public sealed partial class SubmissionIntake(
    IFormSubmissionStore submissions, StudentMessages messages, OutboxRelay relay, ApiCache cache,
    IOptions<QueueOptions> queueOptions, TimeProvider time, ILogger<SubmissionIntake> logger)
{
    /// <exception cref="InvalidNotificationException">The confirmation breaks the queue's rules; nothing is stored.</exception>
    /// <exception cref="IdempotencyKeyReusedException">The key was used for another submission, or too long ago.</exception>
    public async Task<SubmissionReceipt> SubmitAsync(SubmissionWork work, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // A request with an Idempotency-Key names its submission after the key (already a hash of the caller, the
        // form and the header): a retry, whatever became of the first answer, finds its submission stored.
        var id = work.RequestKey ?? RecordIds.New();
        var confirmation = Confirmation(work, id, now);
        var submission = new NewSubmission(work.Form.Id, work.Student.Id, work.Student.RollNumber, work.Answers, SubmittedAt: now, Id: id)
        {
            Notifications = confirmation,
        };
        try
        {
            await submissions.CreateAsync(submission, cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicateKeyException) when (work.RequestKey is not null)
        {
            if (await CheckStoredAsync(submission).ConfigureAwait(false) is { } refused)
            {
                throw refused;
            }
            LogRetryOfStored(logger, id);
            return new SubmissionReceipt(id, []);
        }
        relay.Notify();
        // Committed: the removal runs to the end even if the caller has gone.
        await cache.InvalidateAsync(CacheKeys.FormAnalytics(work.Form.Id), CancellationToken.None).ConfigureAwait(false);
        return new SubmissionReceipt(id, [.. confirmation.Select(c => c.Task.Id)]);
    }

    /// <summary>
    /// Null when the stored submission with this one's id is this one (same form, student and answers) and recent
    /// enough that the queue still knows its confirmation's idempotency keys; otherwise why the key may not be used.
    /// </summary>
    private async Task<IdempotencyKeyReusedException?> CheckStoredAsync(NewSubmission mine)
    {
        var stored = await submissions.GetAsync(mine.Id!, CancellationToken.None).ConfigureAwait(false);
        // The store keeps answer keys trimmed and values as given.
        var answers = (mine.Answers ?? new Dictionary<string, string>()).ToDictionary(a => a.Key.Trim(), a => a.Value ?? "", StringComparer.Ordinal);
        var sameAnswers = stored.Answers.Count == answers.Count
            && stored.Answers.All(a => answers.TryGetValue(a.Key, out var value) && value == a.Value);
        if (stored.FormId != mine.FormId || stored.StudentId != mine.StudentId || !sameAnswers)
        {
            return new IdempotencyKeyReusedException("This Idempotency-Key was already used for a different submission; send this one with a new key.");
        }
        // Past the window the confirmation would be queued again: the student would get it twice.
        return time.GetUtcNow() - stored.SubmittedAt > queueOptions.Value.IdempotencyWindow
            ? new IdempotencyKeyReusedException($"This Idempotency-Key was used for a submission on {stored.SubmittedAt:u}, too long ago to be a retry; send a new key.")
            : null;
    }

    private IReadOnlyList<PreparedTask> Confirmation(SubmissionWork work, string submissionId, DateTimeOffset submittedAt)
    {
        var (form, student) = (work.Form, work.Student);
        var model = new NotificationModel { StudentName = student.Name, Username = student.RollNumber, FormTitle = form.Title, SubmittedAt = submittedAt };
        // Keyed by the submission (named after the request's Idempotency-Key when it has one): the relay moving it
        // twice, or a retried request, queues nothing new.
        return messages.Prepare(TemplateNames.SubmissionConfirmation, model, student, $"submission:{submissionId}",
            new Correlation { SubmissionId = submissionId, StudentId = student.Id }, NotificationPriority.Normal);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Submission {SubmissionId} is already stored: its request was sent again with the same Idempotency-Key")]
    private static partial void LogRetryOfStored(ILogger logger, string submissionId);
}
