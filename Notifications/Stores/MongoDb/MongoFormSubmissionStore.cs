using System.Globalization;
using MongoDB.Bson;
using MongoDB.Driver;

namespace Notifications.Stores.MongoDb;

/// <summary>
/// Form submissions in MongoDB. A call's submissions and their notifications (outbox and Queued delivery
/// records) are written in one transaction, after every submission is checked and every form found.
/// </summary>
internal sealed class MongoFormSubmissionStore(MongoDocumentDatabase database, TimeProvider time) : IFormSubmissionStore
{
    private static readonly FilterDefinitionBuilder<SubmissionDocument> s_filter = Builders<SubmissionDocument>.Filter;

    public async Task<IReadOnlyList<FormSubmission>> CreateManyAsync(IReadOnlyList<NewSubmission> submissions,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(submissions);
        var now = time.GetUtcNow();
        // The ids are fixed here, before the transaction: the submissions' confirmations already carry them.
        var inputs = submissions.Select(submission => StoreInput.Submission(submission, now)).ToList();
        if (inputs.Count == 0)
        {
            return [];
        }
        var notifications = submissions.SelectMany(s => s.Notifications ?? []).ToList();
        try
        {
            return await database.InTransactionAsync(async (session, ct) =>
            {
                foreach (var formId in inputs.Select(i => i.FormId).Distinct(StringComparer.Ordinal))
                {
                    await ThrowIfFormUnknownAsync(session, formId, ct).ConfigureAwait(false);
                }
                await ThrowIfAnyGivenIdIsTakenAsync(session, submissions, ct).ConfigureAwait(false);
                // A fresh list in each attempt: a retried transaction writes what the first attempt would have.
                var documents = inputs.ConvertAll(ToDocument);
                await database.Submissions.InsertManyAsync(session, documents, new InsertManyOptions { IsOrdered = true }, ct).ConfigureAwait(false);
                // Each submission's confirmation commits with it: a stored submission is never without its notifications.
                await MongoOutbox.AddAsync(database, session, notifications, now, ct).ConfigureAwait(false);
                return (IReadOnlyList<FormSubmission>)documents.ConvertAll(ToSubmission);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (MongoBulkWriteException<SubmissionDocument> ex) when (ex.IsDuplicateKey())
        {
            // Only a race with another writer of the same given id gets here (the check above saw none).
            throw StoreInput.SubmissionIdsTaken(submissions, ex);
        }
    }

    private static SubmissionDocument ToDocument(NewSubmission input) => new()
    {
        Id = input.Id!,
        FormId = input.FormId,
        StudentId = input.StudentId,
        RollNumber = input.RollNumber,
        Answers = new Dictionary<string, string>(input.Answers, StringComparer.Ordinal),
        Status = input.Status,
        SubmittedAt = input.SubmittedAt!.Value.UtcDateTime,
    };

    public async Task<FormSubmission> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var checkedId = StoreInput.Id(id);
        var found = await database.Submissions.Find(s_filter.Eq(s => s.Id, checkedId)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return found is null ? throw new NotFoundException("form submission", checkedId) : ToSubmission(found);
    }

    public async Task<Page<FormSubmission>> ListByFormAsync(string formId, PageRequest page, CancellationToken cancellationToken = default)
    {
        var checkedFormId = StoreInput.Id(formId, "formId");
        page.Validate();
        var filter = s_filter.Eq(s => s.FormId, checkedFormId);
        var total = await database.Submissions.CountDocumentsAsync(filter, cancellationToken: cancellationToken).ConfigureAwait(false);
        var items = await database.Submissions.Find(filter).SortByDescending(s => s.SubmittedAt).ThenByDescending(s => s.Id)
            .Skip(page.Offset).Limit(page.Limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return new Page<FormSubmission>(items.ConvertAll(ToSubmission), total, page.Offset, page.Limit);
    }

    public async Task<FormAnalytics> GetAnalyticsAsync(string formId, CancellationToken cancellationToken = default)
    {
        var checkedFormId = StoreInput.Id(formId, "formId");
        await ThrowIfFormUnknownAsync(null, checkedFormId, cancellationToken).ConfigureAwait(false);
        var result = await database.Submissions.Aggregate(BuildAnalyticsPipeline(checkedFormId), cancellationToken: cancellationToken)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return ReadAnalytics(checkedFormId, result);
    }

    /// <summary>One pass over the form's submissions (index <c>ix_formId_submittedAt</c>), counted two ways.</summary>
    internal static PipelineDefinition<SubmissionDocument, BsonDocument> BuildAnalyticsPipeline(string formId)
    {
        static BsonDocument CountBy(BsonValue key) =>
            new("$group", new BsonDocument { { "_id", key }, { "count", new BsonDocument("$sum", 1) } });

        var facet = new BsonDocument("$facet", new BsonDocument
        {
            {
                "perDay", new BsonArray
                {
                    CountBy(new BsonDocument("$dateToString", new BsonDocument
                    {
                        { "format", "%Y-%m-%d" }, { "date", "$submittedAt" }, { "timezone", "UTC" },
                    })),
                    new BsonDocument("$sort", new BsonDocument("_id", 1)),
                }
            },
            { "perStatus", new BsonArray { CountBy("$status") } },
        });
        return new EmptyPipelineDefinition<SubmissionDocument>()
            .Match(s_filter.Eq(s => s.FormId, formId))
            .AppendStage(new BsonDocumentPipelineStageDefinition<SubmissionDocument, BsonDocument>(facet));
    }

    internal static FormAnalytics ReadAnalytics(string formId, BsonDocument? result)
    {
        var perDay = new List<DailyCount>();
        var perStatus = new Dictionary<string, long>(StringComparer.Ordinal);
        if (result is not null)
        {
            foreach (var day in result["perDay"].AsBsonArray.Select(v => v.AsBsonDocument))
            {
                perDay.Add(new DailyCount(DateOnly.ParseExact(day["_id"].AsString, "yyyy-MM-dd", CultureInfo.InvariantCulture), day["count"].ToInt64()));
            }
            foreach (var status in result["perStatus"].AsBsonArray.Select(v => v.AsBsonDocument))
            {
                perStatus[status["_id"].AsString] = status["count"].ToInt64();
            }
        }
        return new FormAnalytics(formId, perStatus.Values.Sum(), perDay, perStatus);
    }

    /// <summary>A taken id is found before anything is written, in the transaction that would write it.</summary>
    private async Task ThrowIfAnyGivenIdIsTakenAsync(IClientSessionHandle session, IReadOnlyList<NewSubmission> submissions, CancellationToken cancellationToken)
    {
        var given = submissions.Select(s => s.Id).OfType<string>().ToList();
        if (given.Count == 0)
        {
            return;
        }
        var taken = given.Count != given.Distinct(StringComparer.Ordinal).Count()
            || await database.Submissions.CountDocumentsAsync(session, s_filter.In(s => s.Id, given), new CountOptions { Limit = 1 }, cancellationToken).ConfigureAwait(false) > 0;
        if (taken)
        {
            throw StoreInput.SubmissionIdsTaken(submissions);
        }
    }

    private async Task ThrowIfFormUnknownAsync(IClientSessionHandle? session, string formId, CancellationToken cancellationToken)
    {
        var byId = Builders<FormDocument>.Filter.Eq(f => f.Id, formId);
        var options = new CountOptions { Limit = 1 };
        var forms = session is null
            ? await database.Forms.CountDocumentsAsync(byId, options, cancellationToken).ConfigureAwait(false)
            : await database.Forms.CountDocumentsAsync(session, byId, options, cancellationToken).ConfigureAwait(false);
        if (forms == 0)
        {
            throw new NotFoundException("form", formId);
        }
    }

    private static FormSubmission ToSubmission(SubmissionDocument d) =>
        new(d.Id, d.FormId, d.StudentId, d.RollNumber, d.Answers, d.Status, d.SubmittedAt.ToOffset());
}
