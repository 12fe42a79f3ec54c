using MongoDB.Driver;
using Notifications.Queue;

namespace Notifications.Stores.MongoDb;

/// <summary>
/// Batches in MongoDB, members embedded in order. Creating a batch or adding students is one transaction with
/// the notices of the students it adds (outbox and Queued delivery records); the checks and the membership
/// before the change are read in it.
/// </summary>
internal sealed class MongoBatchStore(MongoDocumentDatabase database, TimeProvider time) : IBatchStore
{
    private static readonly FilterDefinitionBuilder<BatchDocument> s_filter = Builders<BatchDocument>.Filter;

    public async Task<BatchChange> CreateAsync(NewBatch batch, NotificationsFor<BatchMember>? notice, CancellationToken cancellationToken)
    {
        var (name, studentIds) = StoreInput.Batch(batch);
        try
        {
            return await database.InTransactionAsync(async (session, ct) =>
            {
                await ThrowIfAnyStudentUnknownAsync(session, studentIds, ct).ConfigureAwait(false);
                // A new id and time in each attempt: nothing of an aborted attempt is kept.
                var document = new BatchDocument
                {
                    Id = RecordIds.New(),
                    Name = name,
                    CreatedAt = FieldValidation.ToStoredPrecision(time.GetUtcNow()).UtcDateTime,
                    StudentIds = [.. studentIds],
                };
                await database.Batches.InsertOneAsync(session, document, cancellationToken: ct).ConfigureAwait(false);
                var created = ToBatch(document);
                var notified = await StoreNoticesAsync(session, created, studentIds, notice, ct).ConfigureAwait(false);
                return new BatchChange(created, studentIds, notified);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (MongoWriteException ex) when (ex.IsDuplicateKey())
        {
            throw new DuplicateKeyException("batch", "name", name, ex);
        }
    }

    public async Task<BatchChange> AddStudentsAsync(string batchId, IReadOnlyCollection<string> studentIds, NotificationsFor<BatchMember>? notice,
        CancellationToken cancellationToken)
    {
        var checkedBatchId = StoreInput.Id(batchId, "batchId");
        var checkedStudentIds = FieldValidation.Ids(studentIds, "studentIds");
        var byId = s_filter.Eq(b => b.Id, checkedBatchId);
        return await database.InTransactionAsync(async (session, ct) =>
        {
            // Read in the transaction: of two requests adding one student at once, one commits and the other, on its
            // write conflict, runs again and finds the student in "before"; the student is added and noticed once.
            var before = await database.Batches.Find(session, byId).FirstOrDefaultAsync(ct).ConfigureAwait(false)
                ?? throw new NotFoundException("batch", checkedBatchId);
            await ThrowIfAnyStudentUnknownAsync(session, checkedStudentIds, ct).ConfigureAwait(false);
            // $addToSet keeps the existing order and skips ids already present, like the SQLite store's INSERT OR IGNORE.
            var updated = await database.Batches.FindOneAndUpdateAsync(
                session,
                byId,
                Builders<BatchDocument>.Update.AddToSetEach(b => b.StudentIds, checkedStudentIds),
                new FindOneAndUpdateOptions<BatchDocument> { ReturnDocument = ReturnDocument.After },
                ct).ConfigureAwait(false) ?? throw new NotFoundException("batch", checkedBatchId);
            var alreadyIn = before.StudentIds.ToHashSet(StringComparer.Ordinal);
            var added = updated.StudentIds.Where(id => !alreadyIn.Contains(id)).ToList();
            var changed = ToBatch(updated);
            var notified = await StoreNoticesAsync(session, changed, added, notice, ct).ConfigureAwait(false);
            return new BatchChange(changed, added, notified);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores in the outbox, in the batch's transaction, the notices <paramref name="notice"/> builds for the students just added.</summary>
    private async Task<IReadOnlyList<string>> StoreNoticesAsync(IClientSessionHandle session, Batch batch, IReadOnlyList<string> added,
        NotificationsFor<BatchMember>? notice, CancellationToken cancellationToken)
    {
        if (notice is null || added.Count == 0)
        {
            return [];
        }
        var students = await database.Students.Find(session, Builders<StudentDocument>.Filter.In(s => s.Id, added)).SortBy(s => s.RollNumber)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        var notices = new List<PreparedTask>(added.Count * 2);
        foreach (var student in students)
        {
            notices.AddRange(notice(new BatchMember(batch, MongoStudentStore.ToStudent(student))));
        }
        await MongoOutbox.AddAsync(database, session, notices, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        return [.. notices.Select(n => n.Task.Id)];
    }

    public async Task<Page<Batch>> ListAsync(PageRequest page, CancellationToken cancellationToken = default)
    {
        page.Validate();
        var total = await database.Batches.CountDocumentsAsync(s_filter.Empty, cancellationToken: cancellationToken).ConfigureAwait(false);
        var items = await database.Batches.Find(s_filter.Empty).SortByDescending(b => b.CreatedAt).ThenByDescending(b => b.Id)
            .Skip(page.Offset).Limit(page.Limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return new Page<Batch>(items.ConvertAll(ToBatch), total, page.Offset, page.Limit);
    }

    public async Task<Batch> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var checkedId = StoreInput.Id(id);
        var found = await database.Batches.Find(s_filter.Eq(b => b.Id, checkedId)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return found is null ? throw new NotFoundException("batch", checkedId) : ToBatch(found);
    }

    private async Task ThrowIfAnyStudentUnknownAsync(IClientSessionHandle session, IReadOnlyList<string> studentIds, CancellationToken cancellationToken)
    {
        if (studentIds.Count == 0)
        {
            return;
        }
        var known = await database.Students.Find(session, Builders<StudentDocument>.Filter.In(s => s.Id, studentIds))
            .Project(s => s.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        var knownIds = known.ToHashSet(StringComparer.Ordinal);
        if (studentIds.FirstOrDefault(id => !knownIds.Contains(id)) is { } unknown)
        {
            throw new NotFoundException("student", unknown);
        }
    }

    private static Batch ToBatch(BatchDocument d) => new(d.Id, d.Name, d.CreatedAt.ToOffset(), d.StudentIds);
}
