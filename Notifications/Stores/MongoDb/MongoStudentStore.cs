using MongoDB.Driver;

namespace Notifications.Stores.MongoDb;

/// <summary>
/// Students in MongoDB. A bulk upsert is validated whole before anything is sent, then written as one
/// ordered bulk write of upserts keyed by roll number. Outside a transaction MongoDB cannot undo a bulk
/// write that the server stops halfway (a lost connection, a stepdown); the caller then gets the exception,
/// never a success, and repeating the same upload converges because every write is an idempotent upsert.
/// </summary>
internal sealed class MongoStudentStore(MongoDocumentDatabase database, TimeProvider time) : IStudentStore
{
    private static readonly FilterDefinitionBuilder<StudentDocument> s_filter = Builders<StudentDocument>.Filter;

    public async Task<UpsertCounts> UpsertManyAsync(IReadOnlyCollection<StudentUpsert> students, CancellationToken cancellationToken = default)
    {
        var rows = StoreInput.Students(students);
        if (rows.Count == 0)
        {
            return new UpsertCounts(0, 0);
        }
        try
        {
            var result = await database.Students.BulkWriteAsync(
                BuildUpsertModels(rows, time.GetUtcNow()), new BulkWriteOptions { IsOrdered = true }, cancellationToken).ConfigureAwait(false);
            return new UpsertCounts(result.Upserts.Count, (int)result.MatchedCount)
            {
                InsertedRollNumbers = [.. result.Upserts.OrderBy(u => u.Index).Select(u => rows[u.Index].RollNumber)],
            };
        }
        catch (MongoBulkWriteException<StudentDocument> ex) when (ex.IsDuplicateKey())
        {
            var failed = ex.WriteErrors.First(e => e.Category == ServerErrorCategory.DuplicateKey).Index;
            throw new DuplicateKeyException("student", "rollNumber", rows[failed].RollNumber, ex);
        }
    }

    internal static List<WriteModel<StudentDocument>> BuildUpsertModels(IReadOnlyList<StudentUpsert> rows, DateTimeOffset now)
    {
        var at = FieldValidation.ToStoredPrecision(now).UtcDateTime;
        var update = Builders<StudentDocument>.Update;
        var models = new List<WriteModel<StudentDocument>>(rows.Count);
        foreach (var row in rows)
        {
            models.Add(new UpdateOneModel<StudentDocument>(
                s_filter.Eq(s => s.RollNumber, row.RollNumber),
                update.Set(s => s.Name, row.Name)
                    .Set(s => s.Email, row.Email)
                    .Set(s => s.Phone, row.Phone)
                    .Set(s => s.BatchId, row.BatchId)
                    .Set(s => s.UpdatedAt, at)
                    .SetOnInsert(s => s.Id, RecordIds.New())
                    .SetOnInsert(s => s.CreatedAt, at))
            { IsUpsert = true });
        }
        return models;
    }

    public async Task<Page<Student>> ListAsync(PageRequest page, CancellationToken cancellationToken = default)
    {
        page.Validate();
        var all = s_filter.Empty;
        var total = await database.Students.CountDocumentsAsync(all, cancellationToken: cancellationToken).ConfigureAwait(false);
        var items = await database.Students.Find(all).SortBy(s => s.RollNumber).Skip(page.Offset).Limit(page.Limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return new Page<Student>(items.ConvertAll(ToStudent), total, page.Offset, page.Limit);
    }

    public async Task<Student> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var checkedId = StoreInput.Id(id);
        var found = await database.Students.Find(s_filter.Eq(s => s.Id, checkedId)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return found is null ? throw new NotFoundException("student", checkedId) : ToStudent(found);
    }

    public async Task<Student> GetByRollNumberAsync(string rollNumber, CancellationToken cancellationToken = default)
    {
        var checkedRollNumber = FieldValidation.Required(rollNumber, "rollNumber", FieldLimits.RollNumber);
        var found = await database.Students.Find(s_filter.Eq(s => s.RollNumber, checkedRollNumber)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return found is null ? throw new NotFoundException("student", checkedRollNumber) : ToStudent(found);
    }

    public async Task<IReadOnlyList<Student>> GetManyAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken = default)
    {
        var checkedIds = FieldValidation.Ids(ids, "ids");
        if (checkedIds.Count == 0)
        {
            return [];
        }
        var found = await database.Students.Find(s_filter.In(s => s.Id, checkedIds)).SortBy(s => s.RollNumber)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return found.ConvertAll(ToStudent);
    }

    public async Task<IReadOnlyList<Student>> ListByBatchAsync(string batchId, CancellationToken cancellationToken = default)
    {
        var checkedBatchId = StoreInput.Id(batchId, "batchId");
        var found = await database.Students.Find(s_filter.Eq(s => s.BatchId, checkedBatchId)).SortBy(s => s.RollNumber)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return found.ConvertAll(ToStudent);
    }

    private static Student ToStudent(StudentDocument d) =>
        new(d.Id, d.RollNumber, d.Name, d.Email, d.Phone, d.BatchId, d.CreatedAt.ToOffset(), d.UpdatedAt.ToOffset());
}
