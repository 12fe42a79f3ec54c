using MongoDB.Driver;

namespace Notifications.Stores.MongoDb;

internal sealed class MongoBatchStore(MongoDocumentDatabase database, TimeProvider time) : IBatchStore
{
    private static readonly FilterDefinitionBuilder<BatchDocument> s_filter = Builders<BatchDocument>.Filter;

    public async Task<Batch> CreateAsync(NewBatch batch, CancellationToken cancellationToken = default)
    {
        var (name, studentIds) = StoreInput.Batch(batch);
        await ThrowIfAnyStudentUnknownAsync(studentIds, cancellationToken).ConfigureAwait(false);
        var document = new BatchDocument
        {
            Id = RecordIds.New(),
            Name = name,
            CreatedAt = FieldValidation.ToStoredPrecision(time.GetUtcNow()).UtcDateTime,
            StudentIds = [.. studentIds],
        };
        try
        {
            await database.Batches.InsertOneAsync(document, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (MongoWriteException ex) when (ex.IsDuplicateKey())
        {
            throw new DuplicateKeyException("batch", "name", name, ex);
        }
        return ToBatch(document);
    }

    public async Task<Batch> AddStudentsAsync(string batchId, IReadOnlyCollection<string> studentIds, CancellationToken cancellationToken = default)
    {
        var checkedBatchId = StoreInput.Id(batchId, "batchId");
        var checkedStudentIds = FieldValidation.Ids(studentIds, "studentIds");
        var byId = s_filter.Eq(b => b.Id, checkedBatchId);
        if (await database.Batches.CountDocumentsAsync(byId, new CountOptions { Limit = 1 }, cancellationToken).ConfigureAwait(false) == 0)
        {
            throw new NotFoundException("batch", checkedBatchId);
        }
        await ThrowIfAnyStudentUnknownAsync(checkedStudentIds, cancellationToken).ConfigureAwait(false);
        // $addToSet keeps the existing order and skips ids already present, like the SQLite store's INSERT OR IGNORE.
        var updated = await database.Batches.FindOneAndUpdateAsync(
            byId,
            Builders<BatchDocument>.Update.AddToSetEach(b => b.StudentIds, checkedStudentIds),
            new FindOneAndUpdateOptions<BatchDocument> { ReturnDocument = ReturnDocument.After },
            cancellationToken).ConfigureAwait(false);
        return updated is null ? throw new NotFoundException("batch", checkedBatchId) : ToBatch(updated);
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

    private async Task ThrowIfAnyStudentUnknownAsync(IReadOnlyList<string> studentIds, CancellationToken cancellationToken)
    {
        if (studentIds.Count == 0)
        {
            return;
        }
        var known = await database.Students.Find(Builders<StudentDocument>.Filter.In(s => s.Id, studentIds))
            .Project(s => s.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        var knownIds = known.ToHashSet(StringComparer.Ordinal);
        if (studentIds.FirstOrDefault(id => !knownIds.Contains(id)) is { } unknown)
        {
            throw new NotFoundException("student", unknown);
        }
    }

    private static Batch ToBatch(BatchDocument d) => new(d.Id, d.Name, d.CreatedAt.ToOffset(), d.StudentIds);
}
