using Microsoft.Extensions.Options;
using MongoDB.Bson;
using MongoDB.Driver;

namespace Notifications.Stores.MongoDb;

/// <summary>
/// The MongoDB system of record: one client for the process (the driver pools connections), the six
/// collections and their indexes. The driver traces its own commands (<c>MongoTelemetry.ActivitySourceName</c>).
/// A record and the notifications it causes are written in one multi-document transaction
/// (<see cref="InTransactionAsync"/>), so the server must be a replica set member (a one-member set will do) or a
/// mongos; <see cref="EnsureSchemaAsync"/> refuses a standalone server at start.
/// </summary>
internal sealed class MongoDocumentDatabase : IDocumentDatabase, IDisposable
{
    public const string StudentsCollection = "students";
    public const string FormsCollection = "forms";
    public const string SubmissionsCollection = "form_submissions";
    public const string BatchesCollection = "batches";
    public const string DeliveryLogCollection = "delivery_log";
    public const string OutboxCollection = "notification_outbox";
    public const string SuppressionsCollection = "suppressions";
    public const string SuppressionAuditCollection = "suppression_audit";
    public const string DeliveryTtlIndexName = "ttl_updatedAt";

    private const int IndexOptionsConflict = 85;
    private const int NamespaceExists = 48;

    // Snapshot reads: the checks and the "before" a transaction reads see one point in time, and a concurrent
    // write to the same document makes one of the two transactions fail with a write conflict, which
    // WithTransactionAsync retries. Majority writes: a commit the caller was told about survives a failover.
    private static readonly TransactionOptions s_transactionOptions =
        new(ReadConcern.Snapshot, ReadPreference.Primary, WriteConcern.WMajority);

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
        Outbox = Database.GetCollection<OutboxDocument>(OutboxCollection);
        Suppressions = Database.GetCollection<SuppressionDocument>(SuppressionsCollection);
        SuppressionAudit = Database.GetCollection<SuppressionAuditDocument>(SuppressionAuditCollection);
    }

    public DocumentStoreProvider Provider => DocumentStoreProvider.MongoDb;
    public IMongoDatabase Database { get; }
    public IMongoCollection<StudentDocument> Students { get; }
    public IMongoCollection<FormDocument> Forms { get; }
    public IMongoCollection<SubmissionDocument> Submissions { get; }
    public IMongoCollection<BatchDocument> Batches { get; }
    public IMongoCollection<DeliveryDocument> DeliveryLog { get; }
    public IMongoCollection<OutboxDocument> Outbox { get; }
    public IMongoCollection<SuppressionDocument> Suppressions { get; }
    public IMongoCollection<SuppressionAuditDocument> SuppressionAudit { get; }

    /// <summary>
    /// Runs <paramref name="work"/> in one multi-document transaction and commits it. The driver's
    /// <c>WithTransactionAsync</c> runs <paramref name="work"/> again when the transaction fails with a transient
    /// error (a write conflict with a concurrent writer, a failover) and retries a commit whose outcome is
    /// unknown, for up to two minutes; so <paramref name="work"/> must build everything it writes (new ids,
    /// times, lists, notifications) inside itself, and keep nothing from an earlier attempt. Any other exception
    /// aborts the transaction and reaches the caller unchanged.
    /// </summary>
    public async Task<TResult> InTransactionAsync<TResult>(
        Func<IClientSessionHandle, CancellationToken, Task<TResult>> work, CancellationToken cancellationToken)
    {
        using var session = await _client.StartSessionAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        return await session.WithTransactionAsync(work, s_transactionOptions, cancellationToken).ConfigureAwait(false);
    }

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
            // Receipts find their task by the provider's message id; only sent tasks have one.
            new(keys.Ascending(d => d.ProviderMessageId), new CreateIndexOptions<DeliveryDocument>
            {
                Name = "ix_providerMessageId",
                PartialFilterExpression = Builders<DeliveryDocument>.Filter.Type(d => d.ProviderMessageId, BsonType.String),
            }),
            // MongoDB deletes a record once its latest event is older than the retention.
            new(keys.Ascending(d => d.UpdatedAt), new CreateIndexOptions { Name = DeliveryTtlIndexName, ExpireAfter = retention }),
        ];
    }

    public static IReadOnlyList<CreateIndexModel<SuppressionDocument>> SuppressionIndexes() =>
        [new(Builders<SuppressionDocument>.IndexKeys.Descending(d => d.At), new CreateIndexOptions { Name = "ix_at" })];

    public static IReadOnlyList<CreateIndexModel<SuppressionAuditDocument>> SuppressionAuditIndexes() =>
        [new(Builders<SuppressionAuditDocument>.IndexKeys.Ascending(d => d.Channel).Ascending(d => d.Address).Descending(d => d.Id),
            new CreateIndexOptions { Name = "ix_channel_address_id" })];

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        await ThrowIfStandaloneAsync(cancellationToken).ConfigureAwait(false);
        // Every collection a transaction writes exists before the first transaction: a transaction cannot always
        // create one (not before MongoDB 4.4, nor on a sharded cluster across shards).
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
        await Suppressions.Indexes.CreateManyAsync(SuppressionIndexes(), cancellationToken).ConfigureAwait(false);
        await SuppressionAudit.Indexes.CreateManyAsync(SuppressionAuditIndexes(), cancellationToken).ConfigureAwait(false);
        // The outbox needs no index but _id (task ids are ULIDs: _id order is creation order), so nothing else creates it.
        try
        {
            await Database.CreateCollectionAsync(OutboxCollection, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (MongoCommandException ex) when (ex.Code == NamespaceExists)
        {
            // Made by an earlier start, or by the other service starting at the same moment.
        }
    }

    /// <summary>
    /// A standalone server refuses transactions, and every upload, batch and submission writes one; say so at
    /// start, not at the first write.
    /// </summary>
    private async Task ThrowIfStandaloneAsync(CancellationToken cancellationToken)
    {
        var hello = await _client.GetDatabase("admin")
            .RunCommandAsync<BsonDocument>(new BsonDocument("hello", 1), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (TransactionsUnavailableReason(hello) is { } reason)
        {
            var servers = string.Join(",", _client.Settings.Servers.Select(s => s.ToString()));
            throw new InvalidOperationException(
                $"The MongoDB server at {servers} {reason}, but the document store writes each record and its notifications in one " +
                "transaction, which needs a replica set. Start mongod with a replica set name (--replSet rs0, or " +
                "replication.replSetName in mongod.conf), run rs.initiate() once, and name the set in the connection string " +
                "(replicaSet=rs0, or directConnection=true); or use the SQLite document store.");
        }
    }

    /// <summary>
    /// Why a server whose <c>hello</c> reply this is cannot run transactions, or null when it can: a replica set
    /// member (<c>setName</c>) or a mongos (<c>msg: "isdbgrid"</c>) can.
    /// </summary>
    internal static string? TransactionsUnavailableReason(BsonDocument hello)
    {
        if (hello.Contains("setName") || (hello.TryGetValue("msg", out var msg) && msg.IsString && msg.AsString == "isdbgrid"))
        {
            return null;
        }
        return hello.TryGetValue("isreplicaset", out var isReplicaSet) && isReplicaSet.ToBoolean()
            ? "has a replica set name but its replica set was never initiated"
            : "is a standalone server";
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
