using Microsoft.Extensions.Options;
using MongoDB.Bson;
using MongoDB.Driver;

namespace Notifications.Stores.MongoDb;

/// <summary>
/// The MongoDB system of record: one client for the process (the driver pools connections), the five
/// collections and their indexes. The driver traces its own commands (<c>MongoTelemetry.ActivitySourceName</c>).
/// </summary>
internal sealed class MongoDocumentDatabase : IDocumentDatabase, IDisposable
{
    public const string StudentsCollection = "students";
    public const string FormsCollection = "forms";
    public const string SubmissionsCollection = "form_submissions";
    public const string BatchesCollection = "batches";
    public const string DeliveryLogCollection = "delivery_log";
    public const string DeliveryTtlIndexName = "ttl_updatedAt";

    private const int IndexOptionsConflict = 85;

    private readonly MongoClient _client;
    private readonly TimeSpan _deliveryLogRetention;

    public MongoDocumentDatabase(IOptions<DocumentStoreOptions> options)
    {
        MongoClassMaps.EnsureRegistered();
        var url = MongoUrl.Create(options.Value.ConnectionString);
        _client = new MongoClient(MongoClientSettings.FromUrl(url));
        _deliveryLogRetention = options.Value.DeliveryLogRetention;
        Database = _client.GetDatabase(url.DatabaseName ?? DocumentStoreOptions.DefaultMongoDatabaseName);
        Students = Database.GetCollection<StudentDocument>(StudentsCollection);
        Forms = Database.GetCollection<FormDocument>(FormsCollection);
        Submissions = Database.GetCollection<SubmissionDocument>(SubmissionsCollection);
        Batches = Database.GetCollection<BatchDocument>(BatchesCollection);
        DeliveryLog = Database.GetCollection<DeliveryDocument>(DeliveryLogCollection);
    }

    public DocumentStoreProvider Provider => DocumentStoreProvider.MongoDb;
    public IMongoDatabase Database { get; }
    public IMongoCollection<StudentDocument> Students { get; }
    public IMongoCollection<FormDocument> Forms { get; }
    public IMongoCollection<SubmissionDocument> Submissions { get; }
    public IMongoCollection<BatchDocument> Batches { get; }
    public IMongoCollection<DeliveryDocument> DeliveryLog { get; }

    public static IReadOnlyList<CreateIndexModel<StudentDocument>> StudentIndexes()
    {
        var keys = Builders<StudentDocument>.IndexKeys;
        return
        [
            new(keys.Ascending(s => s.RollNumber), new CreateIndexOptions { Name = "ux_rollNumber", Unique = true }),
            new(keys.Ascending(s => s.BatchId).Ascending(s => s.RollNumber), new CreateIndexOptions { Name = "ix_batchId_rollNumber" }),
        ];
    }

    public static IReadOnlyList<CreateIndexModel<FormDocument>> FormIndexes() =>
        [new(Builders<FormDocument>.IndexKeys.Ascending(f => f.IsActive).Ascending(f => f.Title), new CreateIndexOptions { Name = "ix_isActive_title" })];

    public static IReadOnlyList<CreateIndexModel<SubmissionDocument>> SubmissionIndexes() =>
        [new(Builders<SubmissionDocument>.IndexKeys.Ascending(s => s.FormId).Descending(s => s.SubmittedAt), new CreateIndexOptions { Name = "ix_formId_submittedAt" })];

    public static IReadOnlyList<CreateIndexModel<BatchDocument>> BatchIndexes()
    {
        var keys = Builders<BatchDocument>.IndexKeys;
        return
        [
            new(keys.Ascending(b => b.Name), new CreateIndexOptions { Name = "ux_name", Unique = true }),
            new(keys.Descending(b => b.CreatedAt), new CreateIndexOptions { Name = "ix_createdAt" }),
        ];
    }

    public static IReadOnlyList<CreateIndexModel<DeliveryDocument>> DeliveryLogIndexes(TimeSpan retention)
    {
        var keys = Builders<DeliveryDocument>.IndexKeys;
        return
        [
            new(keys.Ascending(d => d.Recipient).Descending(d => d.CreatedAt), new CreateIndexOptions { Name = "ix_recipient_createdAt" }),
            new(keys.Ascending(d => d.BatchId).Ascending(d => d.Status), new CreateIndexOptions { Name = "ix_batchId_status" }),
            new(keys.Ascending(d => d.Status).Descending(d => d.CreatedAt), new CreateIndexOptions { Name = "ix_status_createdAt" }),
            new(keys.Descending(d => d.CreatedAt), new CreateIndexOptions { Name = "ix_createdAt" }),
            // MongoDB deletes a record once its latest event is older than the retention.
            new(keys.Ascending(d => d.UpdatedAt), new CreateIndexOptions { Name = DeliveryTtlIndexName, ExpireAfter = retention }),
        ];
    }

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        // createIndexes also creates a missing collection, and is a no-op for an index that already exists.
        await Students.Indexes.CreateManyAsync(StudentIndexes(), cancellationToken).ConfigureAwait(false);
        await Forms.Indexes.CreateManyAsync(FormIndexes(), cancellationToken).ConfigureAwait(false);
        await Submissions.Indexes.CreateManyAsync(SubmissionIndexes(), cancellationToken).ConfigureAwait(false);
        await Batches.Indexes.CreateManyAsync(BatchIndexes(), cancellationToken).ConfigureAwait(false);
        try
        {
            await DeliveryLog.Indexes.CreateManyAsync(DeliveryLogIndexes(_deliveryLogRetention), cancellationToken).ConfigureAwait(false);
        }
        catch (MongoCommandException ex) when (ex.Code == IndexOptionsConflict)
        {
            // The retention was changed since the TTL index was made: change the index in place.
            await Database.RunCommandAsync<BsonDocument>(RetentionChangeCommand(_deliveryLogRetention), cancellationToken: cancellationToken).ConfigureAwait(false);
            await DeliveryLog.Indexes.CreateManyAsync(DeliveryLogIndexes(_deliveryLogRetention), cancellationToken).ConfigureAwait(false);
        }
    }

    public static BsonDocument RetentionChangeCommand(TimeSpan retention) => new()
    {
        { "collMod", DeliveryLogCollection },
        { "index", new BsonDocument { { "name", DeliveryTtlIndexName }, { "expireAfterSeconds", (long)retention.TotalSeconds } } },
    };

    public async Task PingAsync(CancellationToken cancellationToken) =>
        await Database.RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), cancellationToken: cancellationToken).ConfigureAwait(false);

    public void Dispose() => _client.Dispose();
}

internal static class MongoErrors
{
    public static bool IsDuplicateKey(this MongoException exception) => exception switch
    {
        MongoWriteException write => write.WriteError?.Category == ServerErrorCategory.DuplicateKey,
        MongoBulkWriteException bulk => bulk.WriteErrors.Any(e => e.Category == ServerErrorCategory.DuplicateKey),
        MongoCommandException command => command.Code == 11000,
        _ => false,
    };

    public static DateTimeOffset ToOffset(this DateTime utc) => new(DateTime.SpecifyKind(utc, DateTimeKind.Utc));
}
