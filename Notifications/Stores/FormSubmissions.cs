using Notifications.Queue;

namespace Notifications.Stores;

/// <summary>A student's answers to a form.</summary>
public sealed record FormSubmission(
    string Id,
    string FormId,
    string StudentId,
    string RollNumber,
    IReadOnlyDictionary<string, string> Answers,
    string Status,
    DateTimeOffset SubmittedAt);

/// <summary>
/// A submission to store. <see cref="SubmittedAt"/> defaults to now; imports of old submissions set it.
/// <see cref="Id"/> defaults to a new <see cref="RecordIds"/> value; the Api names a submission before
/// storing it, so that it can build and check the confirmation (which carries the id) first.
/// <see cref="Notifications"/> (its confirmation) is stored in the outbox in the submission's transaction.
/// </summary>
public sealed record NewSubmission(
    string FormId,
    string StudentId,
    string RollNumber,
    IReadOnlyDictionary<string, string> Answers,
    string Status = NewSubmission.SubmittedStatus,
    DateTimeOffset? SubmittedAt = null,
    string? Id = null)
{
    public const string SubmittedStatus = "submitted";

    public IReadOnlyList<PreparedTask> Notifications { get; init; } = [];
}

/// <summary>Submissions on one UTC day.</summary>
public sealed record DailyCount(DateOnly Day, long Count);

/// <summary>A form's submissions counted per UTC day (ascending) and per status.</summary>
public sealed record FormAnalytics(string FormId, long Total, IReadOnlyList<DailyCount> PerDay, IReadOnlyDictionary<string, long> PerStatus);

public interface IFormSubmissionStore
{
    /// <exception cref="NotFoundException">The form does not exist.</exception>
    async Task<FormSubmission> CreateAsync(NewSubmission submission, CancellationToken cancellationToken = default) =>
        (await CreateManyAsync([submission], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>
    /// Stores several submissions and their notifications in one transaction. Every submission and
    /// every form is checked before anything is written.
    /// </summary>
    /// <exception cref="NotFoundException">A form does not exist; none of the submissions is stored.</exception>
    /// <exception cref="DuplicateKeyException">A given id is taken; none of the submissions is stored.</exception>
    Task<IReadOnlyList<FormSubmission>> CreateManyAsync(IReadOnlyList<NewSubmission> submissions, CancellationToken cancellationToken = default);

    /// <exception cref="NotFoundException">No submission has this id.</exception>
    Task<FormSubmission> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>A form's submissions, newest first.</summary>
    Task<Page<FormSubmission>> ListByFormAsync(string formId, PageRequest page, CancellationToken cancellationToken = default);

    /// <exception cref="NotFoundException">The form does not exist.</exception>
    Task<FormAnalytics> GetAnalyticsAsync(string formId, CancellationToken cancellationToken = default);
}
