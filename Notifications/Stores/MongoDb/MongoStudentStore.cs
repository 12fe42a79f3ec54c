using MongoDB.Driver;
using Notifications.Queue;

namespace Notifications.Stores.MongoDb;

/// <summary>
/// Students in MongoDB. A bulk upsert is validated whole before anything is sent, then written as one ordered
/// bulk write of upserts keyed by roll number, in one transaction with the welcomes of the students it creates
/// (outbox and Queued delivery records): a server that fails midway (a lost connection, a stepdown) leaves
/// neither rows nor welcomes, and the caller gets the exception.
/// </summary>
internal sealed class MongoStudentStore(MongoDocumentDatabase database, TimeProvider time) : IStudentStore
{
    private static readonly FilterDefinitionBuilder<StudentDocument> s_filter = Builders<StudentDocument>.Filter;

    public async Task<UpsertCounts> UpsertManyAsync(IReadOnlyCollection<StudentUpsert> students, NotificationsFor<Student>? welcome,
        CancellationToken cancellationToken)
    {
        var rows = StoreInput.Students(students);
        if (rows.Count == 0)
        {
            return new UpsertCounts(0, 0);
        }
        try
        {
            return await database.InTransactionAsync(async (session, ct) =>
            {
                // Everything is made anew in each attempt: a retried transaction writes fresh ids and welcomes.
                var at = FieldValidation.ToStoredPrecision(time.GetUtcNow());
                var ids = rows.Select(_ => RecordIds.New()).ToList();
                var result = await database.Students.BulkWriteAsync(
                    session, BuildUpsertModels(rows, ids, at), new BulkWriteOptions { IsOrdered = true }, ct).ConfigureAwait(false);
                // Upserts lists the rows the write inserted; their _id is the one $setOnInsert wrote, ids[index].
                var inserted = result.Upserts.Select(u => u.Index).Order().ToList();
                var welcomes = new List<PreparedTask>();
                if (welcome is not null)
                {
                    foreach (var index in inserted)
                    {
                        var row = rows[index];
                        welcomes.AddRange(welcome(new Student(ids[index], row.RollNumber, row.Name, row.Email, row.Phone, row.BatchId, at, at)));
                    }
                }
                await MongoOutbox.AddAsync(database, session, welcomes, at, ct).ConfigureAwait(false);
                return new UpsertCounts(inserted.Count, (int)result.MatchedCount)
                {
                    InsertedRollNumbers = [.. inserted.Select(index => rows[index].RollNumber)],
                    NotificationsStored = welcomes.Count,
                };
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (MongoBulkWriteException<StudentDocument> ex) when (ex.IsDuplicateKey())
        {
            var failed = ex.WriteErrors.First(e => e.Category == ServerErrorCategory.DuplicateKey).Index;
            throw new DuplicateKeyException("student", "rollNumber", rows[failed].RollNumber, ex);
        }
    }

    /// <summary>One upsert per row, matched on the roll number; a row it inserts gets <paramref name="ids"/>' id at its index.</summary>
    internal static List<WriteModel<StudentDocument>> BuildUpsertModels(IReadOnlyList<StudentUpsert> rows, IReadOnlyList<string> ids, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(ids.Count, rows.Count);
        var at = FieldValidation.ToStoredPrecision(now).UtcDateTime;
        var update = Builders<StudentDocument>.Update;
        var models = new List<WriteModel<StudentDocument>>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            models.Add(new UpdateOneModel<StudentDocument>(
                s_filter.Eq(s => s.RollNumber, row.RollNumber),
                update.Set(s => s.Name, row.Name)
                    .Set(s => s.Email, row.Email)
                    .Set(s => s.Phone, row.Phone)
                    .Set(s => s.BatchId, row.BatchId)
                    .Set(s => s.UpdatedAt, at)
                    .SetOnInsert(s => s.Id, ids[i])
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

    internal static Student ToStudent(StudentDocument d) =>
        new(d.Id, d.RollNumber, d.Name, d.Email, d.Phone, d.BatchId, d.CreatedAt.ToOffset(), d.UpdatedAt.ToOffset());
}
