using Notifications.Tasks;
using MongoDB.Bson;
using MongoDB.Driver;
using F = Notifications.Stores.MongoDb.MongoClassMaps.Delivery;

namespace Notifications.Stores.MongoDb;

/// <summary>
/// The delivery log as one document per task with its timeline embedded. An append is a single upsert
/// whose update pipeline reads the stored document, so MongoDB applies concurrent appends to one task one
/// after another (single-document atomicity) and none overwrites another's event.
/// </summary>
internal sealed class MongoDeliveryLog(MongoDocumentDatabase database) : IDeliveryLog
{
    private static readonly FilterDefinitionBuilder<DeliveryDocument> s_filter = Builders<DeliveryDocument>.Filter;

    public async Task AppendAsync(DeliveryEvent deliveryEvent, CancellationToken cancellationToken = default) =>
        await AppendCheckedAsync(database, null, [StoreInput.Event(deliveryEvent)], cancellationToken).ConfigureAwait(false);

    public async Task AppendManyAsync(IReadOnlyCollection<DeliveryEvent> deliveryEvents, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deliveryEvents);
        await AppendCheckedAsync(database, null, [.. deliveryEvents.Select(StoreInput.Event)], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Appends checked events (<see cref="StoreInput.Event"/>) as one ordered bulk write of upserts, each the
    /// update of <see cref="BuildAppendUpdate"/>; inside <paramref name="session"/>'s transaction when one is given
    /// (the outbox's Queued events commit with the records that caused them).
    /// </summary>
    internal static async Task AppendCheckedAsync(MongoDocumentDatabase database, IClientSessionHandle? session,
        IReadOnlyList<DeliveryEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }
        var models = events.Select(e => (WriteModel<DeliveryDocument>)new UpdateOneModel<DeliveryDocument>(
            s_filter.Eq(d => d.TaskId, e.TaskId), BuildAppendUpdate(e)) { IsUpsert = true }).ToList();
        var options = new BulkWriteOptions { IsOrdered = true };
        try
        {
            await WriteAsync(models).ConfigureAwait(false);
        }
        catch (MongoBulkWriteException<DeliveryDocument> ex) when (session is null && ex.IsDuplicateKey())
        {
            // Two first events for one task raced to insert it. The ordered write stopped at the loser, whose retry
            // (with the events after it) now finds the document. In a transaction the server has aborted the whole
            // transaction instead; there a concurrent insert is a write conflict, which the transaction retries.
            var failed = ex.WriteErrors.Min(e => e.Index);
            await WriteAsync(models.GetRange(failed, models.Count - failed)).ConfigureAwait(false);
        }

        Task WriteAsync(List<WriteModel<DeliveryDocument>> batch) => session is null
            ? database.DeliveryLog.BulkWriteAsync(batch, options, cancellationToken)
            : database.DeliveryLog.BulkWriteAsync(session, batch, options, cancellationToken);
    }

    /// <summary>
    /// The append as an update pipeline, so the new status can depend on the stored time: the newer event
    /// (by time) wins the status and provider fields; identity fields keep their first value. Every caller
    /// string goes through <c>$literal</c>: a provider error such as "$5 limit" must not read as a field path.
    /// </summary>
    internal static UpdateDefinition<DeliveryDocument> BuildAppendUpdate(DeliveryEvent e)
    {
        var at = new BsonDateTime(e.At.UtcDateTime);
        // Of two events as new, the one written later wins, unless it is a Queued event: a task is Queued first, so a
        // Queued of the same instant as another event is never the news. A first event always wins.
        var isNewer = e.Status == DeliveryStatus.Queued
            ? new BsonDocument("$gt", new BsonArray { at, new BsonDocument("$ifNull", new BsonArray { Field(F.UpdatedAt), new BsonDateTime(DateTime.UnixEpoch) }) })
            : new BsonDocument("$gte", new BsonArray { at, new BsonDocument("$ifNull", new BsonArray { Field(F.UpdatedAt), at }) });

        // Ranks (DeliveryStatuses.Rank): a higher one wins whatever its time, a lower one never; within a rank, the newer event.
        var rank = DeliveryStatuses.Rank(e.Status);
        var storedRank = RankOf(new BsonDocument("$ifNull", new BsonArray { Field(F.Status), DeliveryStatus.Queued.ToString() }));
        var higher = new BsonDocument("$gt", new BsonArray { rank, storedRank });
        var lower = new BsonDocument("$lt", new BsonArray { rank, storedRank });
        var wins = new BsonDocument("$or", new BsonArray
        {
            higher,
            new BsonDocument("$and", new BsonArray { new BsonDocument("$eq", new BsonArray { rank, storedRank }), isNewer }),
        });

        var timelineEntry = new BsonDocument
        {
            { F.Status, Literal(e.Status.ToString()) },
            { F.EventAt, at },
            { F.EventAttempt, e.Attempt },
            { F.EventError, Literal(e.Error) },
            { F.ProviderMessageId, Literal(e.ProviderMessageId) },
        };
        if (e.ReceiptId is not null)
        {
            timelineEntry.Add(F.EventReceiptId, Literal(e.ReceiptId));
        }
        var set = new BsonDocument
        {
            { F.Timeline, new BsonDocument("$concatArrays", new BsonArray
                {
                    new BsonDocument("$ifNull", new BsonArray { Field(F.Timeline), new BsonArray() }),
                    new BsonArray { timelineEntry },
                })
            },
            { F.Status, new BsonDocument("$switch", new BsonDocument
                {
                    { "branches", new BsonArray
                        {
                            new BsonDocument { { "case", higher }, { "then", Literal(e.Status.ToString()) } },
                            new BsonDocument { { "case", lower }, { "then", Field(F.Status) } },
                            new BsonDocument { { "case", isNewer }, { "then", Literal(e.Status.ToString()) } },
                        }
                    },
                    { "default", Field(F.Status) },
                })
            },
            { F.Attempts, new BsonDocument("$max", new BsonArray { new BsonDocument("$ifNull", new BsonArray { Field(F.Attempts), 0 }), e.Attempt }) },
            { F.Channel, FirstValue(F.Channel, e.Channel.ToString()) },
            { F.Recipient, FirstValue(F.Recipient, e.Recipient) },
            // $min and $max skip a missing field, so the first event sets both.
            { F.CreatedAt, new BsonDocument("$min", new BsonArray { Field(F.CreatedAt), at }) },
            { F.UpdatedAt, new BsonDocument("$max", new BsonArray { Field(F.UpdatedAt), at }) },
        };
        AddIfGiven(set, F.BatchId, e.BatchId, value => FirstValue(F.BatchId, value));
        AddIfGiven(set, F.SubmissionId, e.SubmissionId, value => FirstValue(F.SubmissionId, value));
        AddIfGiven(set, F.StudentId, e.StudentId, value => FirstValue(F.StudentId, value));
        AddIfGiven(set, F.Provider, e.Provider, value => NewerValue(F.Provider, value, wins));
        AddIfGiven(set, F.ProviderMessageId, e.ProviderMessageId, value => NewerValue(F.ProviderMessageId, value, wins));
        // SMS parts and cost: the latest value given (the provider's count replaces ours).
        if (e.SmsParts is { } parts)
        {
            set.Add(F.SmsParts, new BsonDocument("$literal", parts));
        }
        if (e.SmsEncoding is { } encoding)
        {
            set.Add(F.SmsEncoding, new BsonDocument("$literal", encoding.ToString()));
        }
        if (e.CreditCost is { } cost)
        {
            set.Add(F.CreditCost, new BsonDocument("$literal", cost));
        }
        if (DeliveryStatuses.IsSuccess(e.Status))
        {
            // A winning Sent or Delivered replaces the last error, also with none: a retried dead letter shows its success.
            set.Add(F.LastError, new BsonDocument("$cond", new BsonArray { wins, Literal(e.Error), Field(F.LastError) }));
        }
        else
        {
            // An older error fills an empty field, except on a record already sent or delivered.
            AddIfGiven(set, F.LastError, e.Error, value => new BsonDocument("$cond", new BsonArray
            {
                new BsonDocument("$or", new BsonArray
                {
                    wins,
                    new BsonDocument("$and", new BsonArray
                    {
                        new BsonDocument("$eq", new BsonArray { new BsonDocument("$ifNull", new BsonArray { Field(F.LastError), BsonNull.Value }), BsonNull.Value }),
                        new BsonDocument("$not", new BsonArray
                        {
                            new BsonDocument("$in", new BsonArray { Field(F.Status), new BsonArray(DeliveryStatuses.Successes.Select(s => s.ToString())) }),
                        }),
                    }),
                }),
                Literal(value),
                Field(F.LastError),
            }));
        }

        var pipeline = PipelineDefinition<DeliveryDocument, DeliveryDocument>.Create(new BsonDocument("$set", set));
        return Builders<DeliveryDocument>.Update.Pipeline(pipeline);

        static string Field(string name) => "$" + name;
        static BsonDocument RankOf(BsonValue status) => new("$switch", new BsonDocument
        {
            { "branches", new BsonArray(DeliveryStatuses.Ranked.Select(r =>
                new BsonDocument { { "case", new BsonDocument("$eq", new BsonArray { status, r.Status.ToString() }) }, { "then", r.Rank } })) },
            { "default", 0 },
        });
        static BsonValue Literal(string? value) => value is null ? BsonNull.Value : new BsonDocument("$literal", value);
        static BsonDocument FirstValue(string name, string value) => new("$ifNull", new BsonArray { Field(name), Literal(value) });
        static BsonDocument NewerValue(string name, string value, BsonDocument wins) =>
            new("$cond", new BsonArray
            {
                new BsonDocument("$or", new BsonArray { new BsonDocument("$eq", new BsonArray { new BsonDocument("$ifNull", new BsonArray { Field(name), BsonNull.Value }), BsonNull.Value }), wins }),
                Literal(value),
                Field(name),
            });
        static void AddIfGiven(BsonDocument set, string name, string? value, Func<string, BsonValue> expression)
        {
            if (value is not null)
            {
                set.Add(name, expression(value));
            }
        }
    }

    public async Task<DeliveryRecord> GetAsync(string taskId, CancellationToken cancellationToken = default)
    {
        var checkedTaskId = FieldValidation.Required(taskId, "taskId", FieldLimits.TaskId);
        var found = await database.DeliveryLog.Find(s_filter.Eq(d => d.TaskId, checkedTaskId)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return found is null ? throw new NotFoundException("delivery task", checkedTaskId) : ToRecord(found);
    }

    public async Task<Page<DeliveryRecord>> QueryAsync(DeliveryQuery query, PageRequest page, CancellationToken cancellationToken = default)
    {
        var filter = BuildQueryFilter(StoreInput.Query(query));
        page.Validate();
        var total = await database.DeliveryLog.CountDocumentsAsync(filter, cancellationToken: cancellationToken).ConfigureAwait(false);
        var items = await database.DeliveryLog.Find(filter).SortByDescending(d => d.CreatedAt).ThenBy(d => d.TaskId)
            .Skip(page.Offset).Limit(page.Limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return new Page<DeliveryRecord>(items.ConvertAll(ToRecord), total, page.Offset, page.Limit);
    }

    internal static FilterDefinition<DeliveryDocument> BuildQueryFilter(DeliveryQuery query)
    {
        var clauses = new List<FilterDefinition<DeliveryDocument>>();
        if (query.Recipient is { } recipient) { clauses.Add(s_filter.Eq(d => d.Recipient, recipient)); }
        if (query.BatchId is { } batchId) { clauses.Add(s_filter.Eq(d => d.BatchId, batchId)); }
        if (query.StudentId is { } studentId) { clauses.Add(s_filter.Eq(d => d.StudentId, studentId)); }
        if (query.Status is { } status) { clauses.Add(s_filter.Eq(d => d.Status, status)); }
        if (query.From is { } from) { clauses.Add(s_filter.Gte(d => d.CreatedAt, from.UtcDateTime)); }
        if (query.To is { } to) { clauses.Add(s_filter.Lt(d => d.CreatedAt, to.UtcDateTime)); }
        return clauses.Count == 0 ? s_filter.Empty : s_filter.And(clauses);
    }

    public async Task<BatchDeliveryProgress> GetBatchProgressAsync(string batchId, CancellationToken cancellationToken = default)
    {
        var checkedBatchId = StoreInput.Id(batchId, "batchId");
        var groups = await database.DeliveryLog.Aggregate(BuildBatchProgressPipeline(checkedBatchId), cancellationToken: cancellationToken)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        var counts = groups.Select(g => new KeyValuePair<DeliveryStatus, long>(Enum.Parse<DeliveryStatus>(g["_id"].AsString), g["count"].ToInt64())).ToList();
        return new BatchDeliveryProgress(checkedBatchId, counts.Sum(c => c.Value), StoreInput.AllStatuses(counts))
        {
            SmsParts = groups.Sum(g => g["parts"].ToInt64()),
            CreditCost = Math.Round(groups.Sum(g => g["cost"].ToDouble()), 4),
        };
    }

    public async Task<ReceiptResult> RecordReceiptAsync(ProviderReceipt receipt, CancellationToken cancellationToken = default)
    {
        var input = StoreInput.Receipt(receipt);
        var found = await database.DeliveryLog.Find(BuildReceiptTaskFilter(input)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        if (found is null)
        {
            return new ReceiptResult(ReceiptOutcome.UnknownMessage, null);
        }
        var task = ToRecord(found);
        var deliveryEvent = StoreInput.ReceiptEvent(input, task);
        // One update that matches only while no event of the timeline has this receipt's id: a second delivery of the
        // same report, even at the same moment, finds nothing to update (single-document atomicity).
        var updated = await database.DeliveryLog.UpdateOneAsync(BuildReceiptUpdateFilter(task.TaskId, input.ReceiptId), BuildAppendUpdate(deliveryEvent),
            cancellationToken: cancellationToken).ConfigureAwait(false);
        return new ReceiptResult(updated.MatchedCount == 0 ? ReceiptOutcome.Duplicate : ReceiptOutcome.Recorded, task);
    }

    /// <summary>The task a receipt names: by task id when the provider echoes it, else by the provider's message id.</summary>
    internal static FilterDefinition<DeliveryDocument> BuildReceiptTaskFilter(ProviderReceipt receipt) => receipt.TaskId is { } taskId
        ? s_filter.Eq(d => d.TaskId, taskId)
        : s_filter.And(s_filter.Eq(d => d.ProviderMessageId, receipt.ProviderMessageId), s_filter.Eq(d => d.Provider, receipt.Provider));

    internal static FilterDefinition<DeliveryDocument> BuildReceiptUpdateFilter(string taskId, string receiptId) =>
        s_filter.And(s_filter.Eq(d => d.TaskId, taskId), s_filter.Ne(F.Timeline + "." + F.EventReceiptId, receiptId));

    public async Task<IReadOnlyList<SmsUsageDay>> GetSmsUsageAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        var (start, end) = StoreInput.UsageRange(from, to);
        var groups = await database.DeliveryLog.Aggregate(BuildSmsUsagePipeline(start, end), cancellationToken: cancellationToken)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return groups.ConvertAll(g => new SmsUsageDay(
            DateOnly.ParseExact(g["_id"].AsString, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            g["count"].ToInt64(), g["parts"].ToInt64(), Math.Round(g["cost"].ToDouble(), 4))
        {
            Ucs2Messages = g["ucs2"].ToInt64(),
            Ucs2Parts = g["ucs2Parts"].ToInt64(),
        });
    }

    internal static PipelineDefinition<DeliveryDocument, BsonDocument> BuildSmsUsagePipeline(DateTimeOffset from, DateTimeOffset to) =>
        new EmptyPipelineDefinition<DeliveryDocument>()
            .Match(s_filter.And(
                s_filter.Gte(d => d.CreatedAt, from.UtcDateTime), s_filter.Lt(d => d.CreatedAt, to.UtcDateTime),
                s_filter.Eq(d => d.Channel, NotificationType.Sms)))
            .AppendStage(new BsonDocumentPipelineStageDefinition<DeliveryDocument, BsonDocument>(new BsonDocument("$group", UsageGroup(
                new BsonDocument("$dateToString", new BsonDocument { { "format", "%Y-%m-%d" }, { "date", "$" + F.CreatedAt }, { "timezone", "UTC" } }))
                .AddRange(new BsonDocument
                {
                    { "ucs2", new BsonDocument("$sum", new BsonDocument("$cond", new BsonArray { IsUcs2, 1, 0 })) },
                    { "ucs2Parts", new BsonDocument("$sum", new BsonDocument("$cond", new BsonArray
                        { IsUcs2, new BsonDocument("$ifNull", new BsonArray { "$" + F.SmsParts, 0 }), 0 })) },
                }))))
            .AppendStage(new BsonDocumentPipelineStageDefinition<BsonDocument, BsonDocument>(new BsonDocument("$sort", new BsonDocument("_id", 1))));

    private static readonly BsonDocument IsUcs2 = new("$eq", new BsonArray { "$" + F.SmsEncoding, SmsEncoding.Ucs2.ToString() });

    /// <summary>A $group body: count, SMS parts and cost per <paramref name="key"/>.</summary>
    private static BsonDocument UsageGroup(BsonValue key) => new()
    {
        { "_id", key },
        { "count", new BsonDocument("$sum", 1) },
        { "parts", new BsonDocument("$sum", new BsonDocument("$ifNull", new BsonArray { "$" + F.SmsParts, 0 })) },
        { "cost", new BsonDocument("$sum", new BsonDocument("$ifNull", new BsonArray { "$" + F.CreditCost, 0.0 })) },
    };

    internal static PipelineDefinition<DeliveryDocument, BsonDocument> BuildBatchProgressPipeline(string batchId) =>
        new EmptyPipelineDefinition<DeliveryDocument>()
            .Match(s_filter.Eq(d => d.BatchId, batchId))
            .AppendStage(new BsonDocumentPipelineStageDefinition<DeliveryDocument, BsonDocument>(
                new BsonDocument("$group", UsageGroup("$" + F.Status))));

    private static DeliveryRecord ToRecord(DeliveryDocument d) => new(
        d.TaskId, d.Status, d.Channel, d.Recipient, d.Attempts, d.Provider, d.ProviderMessageId, d.LastError,
        d.BatchId, d.SubmissionId, d.StudentId, d.CreatedAt.ToOffset(), d.UpdatedAt.ToOffset(),
        // Appends arrive in any order; the timeline reads in event time, ties in arrival order (OrderBy is stable).
        d.Timeline.OrderBy(t => t.At).Select(t => new DeliveryTimelineEntry(t.Status, t.At.ToOffset(), t.Attempt, t.Error, t.ProviderMessageId)).ToList())
    {
        SmsParts = d.SmsParts,
        SmsEncoding = d.SmsEncoding,
        CreditCost = d.CreditCost,
    };
}
