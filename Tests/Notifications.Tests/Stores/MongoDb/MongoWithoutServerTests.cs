using Microsoft.Extensions.Options;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;
using Notifications.Stores;
using Notifications.Stores.MongoDb;
using Notifications.Tasks;

namespace Notifications.Tests.Stores.MongoDb;

/// <summary>
/// The MongoDB store's documents, queries and indexes, checked as the BSON the driver would send; no
/// server is needed. The contract suite covers the behaviour when MONGODB_URI names a server.
/// </summary>
public sealed class MongoWithoutServerTests
{
    private static readonly DateTime s_at = new(2026, 3, 14, 9, 30, 0, 123, DateTimeKind.Utc);

    static MongoWithoutServerTests() => MongoClassMaps.EnsureRegistered();

    private static RenderArgs<T> Args<T>() => new(BsonSerializer.LookupSerializer<T>(), BsonSerializer.SerializerRegistry);

    [Fact]
    public void StudentDocument_RoundTripsThroughBson_WithCamelCaseNamesAndUtcDates()
    {
        var student = new StudentDocument
        {
            Id = "65f000000000000000000001", RollNumber = "21CS001", Name = "Asha", Email = "asha@example.org",
            Phone = "+919876543210", BatchId = null, CreatedAt = s_at, UpdatedAt = s_at.AddMinutes(1),
        };

        var bson = student.ToBsonDocument();
        var back = BsonSerializer.Deserialize<StudentDocument>(bson);

        Assert.Equal(["_id", "rollNumber", "name", "email", "phone", "batchId", "createdAt", "updatedAt"], bson.Names);
        Assert.Equal(BsonType.DateTime, bson["createdAt"].BsonType);
        Assert.Equivalent(student, back, strict: true);
        Assert.Equal(DateTimeKind.Utc, back.CreatedAt.Kind);
    }

    [Fact]
    public void SubmissionDocument_StoresAnswersAsKeyValuePairs_SoAnyFieldNameIsSafe()
    {
        var submission = new SubmissionDocument
        {
            Id = "s1", FormId = "f1", StudentId = "st1", RollNumber = "R1", Status = "submitted", SubmittedAt = s_at,
            Answers = new() { ["a.b"] = "dotted", ["$x"] = "dollar" },
        };

        var bson = submission.ToBsonDocument();
        var back = BsonSerializer.Deserialize<SubmissionDocument>(bson);

        Assert.Equal(BsonDocument.Parse("""{ "answers": [ { "k": "a.b", "v": "dotted" }, { "k": "$x", "v": "dollar" } ] }""")["answers"], bson["answers"]);
        Assert.Equal(submission.Answers, back.Answers);
    }

    [Fact]
    public void DeliveryDocument_StoresEnumsAsNames_AndTheTimelineAsAnArray()
    {
        var delivery = new DeliveryDocument
        {
            TaskId = "t1", Status = DeliveryStatus.Retrying, Channel = NotificationType.Email, Recipient = "a@example.org", Attempts = 2,
            CreatedAt = s_at, UpdatedAt = s_at,
            Timeline = [new DeliveryEventDocument { Status = DeliveryStatus.Queued, At = s_at, Attempt = 0 }],
        };

        var bson = delivery.ToBsonDocument();
        var back = BsonSerializer.Deserialize<DeliveryDocument>(bson);

        Assert.Equal("t1", bson["_id"].AsString);
        Assert.Equal(("Retrying", "Email"), (bson["status"].AsString, bson["channel"].AsString));
        Assert.Equal("Queued", bson["timeline"][0]["status"].AsString);
        Assert.Equivalent(delivery, back, strict: true);
    }

    [Fact]
    public void OutboxDocument_RoundTripsThroughBson_WithTheTaskIdAsIdAndTheBodyAsBinary()
    {
        var entry = new OutboxDocument { TaskId = "01JQ0000000000000000000001", Body = "{\"id\":\"t\"}"u8.ToArray(), CreatedAt = s_at };

        var bson = entry.ToBsonDocument();
        var back = BsonSerializer.Deserialize<OutboxDocument>(bson);

        Assert.Equal(["_id", "body", "createdAt"], bson.Names);
        Assert.Equal("01JQ0000000000000000000001", bson["_id"].AsString);
        Assert.Equal(BsonType.Binary, bson["body"].BsonType);
        Assert.Equal(BsonBinarySubType.Binary, bson["body"].AsBsonBinaryData.SubType);
        Assert.Equal(new BsonDateTime(s_at), bson["createdAt"]);
        Assert.Equivalent(entry, back, strict: true);
        Assert.Equal(DateTimeKind.Utc, back.CreatedAt.Kind);
    }

    [Fact]
    public void Outbox_ReadsOldestFirstByTaskId_AndRemovesByTaskIds()
    {
        Assert.Equal(BsonDocument.Parse("""{ "_id": 1 }"""), MongoOutbox.OldestFirst.Render(Args<OutboxDocument>()));
        Assert.Equal(
            BsonDocument.Parse("""{ "_id": { "$in": [ "01JQ0000000000000000000001", "01JQ0000000000000000000002" ] } }"""),
            MongoOutbox.BuildRemoveFilter(["01JQ0000000000000000000001", "01JQ0000000000000000000002"]).Render(Args<OutboxDocument>()));
    }

    [Theory]
    [InlineData("""{ "isWritablePrimary": true, "setName": "rs0", "hosts": [ "127.0.0.1:27017" ] }""", null)]
    [InlineData("""{ "isWritablePrimary": true, "msg": "isdbgrid" }""", null)]
    [InlineData("""{ "isWritablePrimary": true }""", "is a standalone server")]
    [InlineData("""{ "isWritablePrimary": false, "isreplicaset": true, "info": "Does not have a valid replica set config" }""", "has a replica set name but its replica set was never initiated")]
    public void Transactions_NeedAReplicaSetMemberOrAMongos(string hello, string? reason)
    {
        Assert.Equal(reason, MongoDocumentDatabase.TransactionsUnavailableReason(BsonDocument.Parse(hello)));
    }

    [Fact]
    public void UpsertModels_MatchOnRollNumber_AndSetIdAndCreatedAtOnlyOnInsert()
    {
        var models = MongoStudentStore.BuildUpsertModels(
            [new StudentUpsert("21CS001", "Asha", "asha@example.org", "+919876543210", "cse")], ["65f000000000000000000001"], s_at);

        var model = Assert.IsType<UpdateOneModel<StudentDocument>>(Assert.Single(models));
        Assert.True(model.IsUpsert);
        Assert.Equal(BsonDocument.Parse("""{ "rollNumber": "21CS001" }"""), model.Filter.Render(Args<StudentDocument>()));
        var update = model.Update.Render(Args<StudentDocument>()).AsBsonDocument;
        Assert.Equal(
            BsonDocument.Parse("""{ "name": "Asha", "email": "asha@example.org", "phone": "+919876543210", "batchId": "cse", "updatedAt": { "$date": "2026-03-14T09:30:00.123Z" } }"""),
            update["$set"]);
        Assert.Equal(["_id", "createdAt"], update["$setOnInsert"].AsBsonDocument.Names);
        // The id the store keeps for the row, so that the student it welcomes is the one the upsert inserted.
        Assert.Equal("65f000000000000000000001", update["$setOnInsert"]["_id"].AsString);
        Assert.Equal(new BsonDateTime(s_at), update["$setOnInsert"]["createdAt"]);
    }

    [Fact]
    public async Task Upsert_RefusesAnInvalidRow_BeforeContactingTheServer()
    {
        // Nothing listens on this port: reaching the server would fail with a timeout, not a field error.
        using var database = new MongoDocumentDatabase(Options.Create(new DocumentStoreOptions
        {
            Provider = DocumentStoreProvider.MongoDb,
            ConnectionString = "mongodb://127.0.0.1:9/notifications?serverSelectionTimeoutMS=200&connectTimeoutMS=200",
        }));
        IStudentStore store = new MongoStudentStore(database, TimeProvider.System);
        var rows = new[] { new StudentUpsert("R1", "Asha", "asha@example.org", "+919876543210"), new StudentUpsert("R2", "Ravi", "ravi@example.org", "12345") };

        var error = await Assert.ThrowsAsync<InvalidFieldException>(() => store.UpsertManyAsync(rows, TestContext.Current.CancellationToken));

        Assert.Equal("students[1].phone", error.Field);
    }

    [Fact]
    public void QueryFilter_RendersEveryGivenClause_AgainstTheMappedNames()
    {
        var filter = MongoDeliveryLog.BuildQueryFilter(new DeliveryQuery
        {
            Recipient = "a@example.org", BatchId = "b1", StudentId = "s1", Status = DeliveryStatus.Dead,
            From = new DateTimeOffset(s_at), To = new DateTimeOffset(s_at.AddHours(1)),
        });

        Assert.Equal(
            BsonDocument.Parse("""
                { "recipient": "a@example.org", "batchId": "b1", "studentId": "s1", "status": "Dead",
                  "createdAt": { "$gte": { "$date": "2026-03-14T09:30:00.123Z" }, "$lt": { "$date": "2026-03-14T10:30:00.123Z" } } }
                """),
            filter.Render(Args<DeliveryDocument>()));
        Assert.Equal(new BsonDocument(), MongoDeliveryLog.BuildQueryFilter(new DeliveryQuery()).Render(Args<DeliveryDocument>()));
    }

    [Fact]
    public void AppendUpdate_RendersOneSetStage_WithCallerTextAsLiterals()
    {
        var update = MongoDeliveryLog.BuildAppendUpdate(new DeliveryEvent("t1", DeliveryStatus.Retrying, new DateTimeOffset(s_at), NotificationType.Sms, "+919876543210")
        {
            Attempt = 2, Error = "$status exploded", Provider = "bulksms",
        });

        var stages = update.Render(Args<DeliveryDocument>()).AsBsonArray;
        var set = Assert.Single(stages).AsBsonDocument["$set"].AsBsonDocument;

        // A higher rank (Retrying is 0) takes the status, a lower one never; within a rank the newer event.
        var status = set["status"]["$switch"].AsBsonDocument;
        var branches = status["branches"].AsBsonArray;
        Assert.Equal(3, branches.Count);
        Assert.Equal(0, branches[0]["case"]["$gt"][0].AsInt32);
        Assert.Equal(BsonDocument.Parse("""{ "$literal": "Retrying" }"""), branches[0]["then"]);
        Assert.Equal(0, branches[1]["case"]["$lt"][0].AsInt32);
        Assert.Equal("$status", branches[1]["then"].AsString);
        Assert.Equal(
            BsonDocument.Parse("""{ "$gte": [ { "$date": "2026-03-14T09:30:00.123Z" }, { "$ifNull": [ "$updatedAt", { "$date": "2026-03-14T09:30:00.123Z" } ] } ] }"""),
            branches[2]["case"]);
        Assert.Equal(BsonDocument.Parse("""{ "$literal": "Retrying" }"""), branches[2]["then"]);
        Assert.Equal("$status", status["default"].AsString);
        // The stored status's rank: every ranked status by name, the rest 0.
        Assert.Equal(
            BsonDocument.Parse("""
                { "$switch": { "branches": [
                    { "case": { "$eq": [ { "$ifNull": [ "$status", "Queued" ] }, "Delivered" ] }, "then": 1 },
                    { "case": { "$eq": [ { "$ifNull": [ "$status", "Queued" ] }, "Undelivered" ] }, "then": 2 },
                    { "case": { "$eq": [ { "$ifNull": [ "$status", "Queued" ] }, "Bounced" ] }, "then": 2 },
                    { "case": { "$eq": [ { "$ifNull": [ "$status", "Queued" ] }, "Complained" ] }, "then": 3 } ], "default": 0 } }
                """),
            branches[0]["case"]["$gt"][1]);
        Assert.Equal(BsonDocument.Parse("""{ "$max": [ { "$ifNull": [ "$attempts", 0 ] }, 2 ] }"""), set["attempts"]);
        Assert.Equal(BsonDocument.Parse("""{ "$literal": "$status exploded" }"""), set["timeline"]["$concatArrays"][1][0]["error"]);
        Assert.Equal(BsonDocument.Parse("""{ "$literal": "$status exploded" }"""), set["lastError"]["$cond"][1]);
        Assert.False(set.Contains("batchId"), "an event without a batch id must not touch the stored one");
    }

    [Fact]
    public void AppendUpdate_LetsAQueuedEventTakeTheStatusOnlyWhenStrictlyNewer()
    {
        var update = MongoDeliveryLog.BuildAppendUpdate(new DeliveryEvent("t1", DeliveryStatus.Queued, new DateTimeOffset(s_at), NotificationType.Sms, "+919876543210"));

        var set = update.Render(Args<DeliveryDocument>()).AsBsonArray[0]["$set"].AsBsonDocument;

        // Against the epoch when nothing is stored yet, so a first Queued event still sets the status.
        Assert.Equal(
            BsonDocument.Parse("""{ "$gt": [ { "$date": "2026-03-14T09:30:00.123Z" }, { "$ifNull": [ "$updatedAt", { "$date": "1970-01-01T00:00:00Z" } ] } ] }"""),
            set["status"]["$switch"]["branches"][2]["case"]);
    }

    [Fact]
    public void AppendUpdate_ReadsAndWritesOnlyElementNamesOfTheClassMap()
    {
        var mapped = BsonClassMap.LookupClassMap(typeof(DeliveryDocument)).AllMemberMaps.Select(m => m.ElementName).ToHashSet();
        var eventNames = BsonClassMap.LookupClassMap(typeof(DeliveryEventDocument)).AllMemberMaps.Select(m => m.ElementName).ToHashSet();
        var update = MongoDeliveryLog.BuildAppendUpdate(new DeliveryEvent("t1", DeliveryStatus.Sent, new DateTimeOffset(s_at), NotificationType.Email, "a@example.org")
        {
            Provider = "brevo", ProviderMessageId = "m1", Error = "e", BatchId = "b", SubmissionId = "s", StudentId = "st",
            SmsParts = 2, SmsEncoding = SmsEncoding.Ucs2, CreditCost = 1.5, ReceiptId = "m1:delivered:1",
        });
        var set = update.Render(Args<DeliveryDocument>()).AsBsonArray[0]["$set"].AsBsonDocument;

        Assert.Subset(mapped, set.Names.ToHashSet());
        Assert.Subset(mapped, FieldPaths(set).ToHashSet());
        Assert.Equal(eventNames, set["timeline"]["$concatArrays"][1][0].AsBsonDocument.Names.ToHashSet());

        // "$name" strings outside $literal are field paths the pipeline reads from the stored document.
        static IEnumerable<string> FieldPaths(BsonValue value) => value switch
        {
            BsonString s when s.Value.StartsWith('$') => [s.Value[1..]],
            BsonDocument d when d.Contains("$literal") => [],
            BsonDocument d => d.Values.SelectMany(FieldPaths),
            BsonArray a => a.SelectMany(FieldPaths),
            _ => [],
        };
    }

    [Fact]
    public void AnalyticsPipeline_MatchesTheForm_AndCountsPerUtcDayAndPerStatus()
    {
        var rendered = MongoFormSubmissionStore.BuildAnalyticsPipeline("f1").Render(Args<SubmissionDocument>());

        Assert.Equal(
            [
                BsonDocument.Parse("""{ "$match": { "formId": "f1" } }"""),
                BsonDocument.Parse("""
                    { "$facet": {
                        "perDay": [
                          { "$group": { "_id": { "$dateToString": { "format": "%Y-%m-%d", "date": "$submittedAt", "timezone": "UTC" } }, "count": { "$sum": 1 } } },
                          { "$sort": { "_id": 1 } } ],
                        "perStatus": [ { "$group": { "_id": "$status", "count": { "$sum": 1 } } } ] } }
                    """),
            ],
            rendered.Documents);
    }

    [Fact]
    public void ReadAnalytics_TurnsTheFacetResultIntoDaysAndStatuses()
    {
        var result = BsonDocument.Parse("""
            { "perDay": [ { "_id": "2026-03-14", "count": 2 }, { "_id": "2026-03-15", "count": { "$numberLong": "1" } } ],
              "perStatus": [ { "_id": "submitted", "count": 2 }, { "_id": "reviewed", "count": 1 } ] }
            """);

        var analytics = MongoFormSubmissionStore.ReadAnalytics("f1", result);

        Assert.Equal(3, analytics.Total);
        Assert.Equal([new DailyCount(new DateOnly(2026, 3, 14), 2), new DailyCount(new DateOnly(2026, 3, 15), 1)], analytics.PerDay);
        Assert.Equal(2, analytics.PerStatus["submitted"]);
        Assert.Equal(0, MongoFormSubmissionStore.ReadAnalytics("f1", null).Total);
    }

    [Fact]
    public void BatchProgressPipeline_GroupsTheBatchsTasksByStatus()
    {
        var rendered = MongoDeliveryLog.BuildBatchProgressPipeline("b1").Render(Args<DeliveryDocument>());

        Assert.Equal(
            [
                BsonDocument.Parse("""{ "$match": { "batchId": "b1" } }"""),
                BsonDocument.Parse("""
                    { "$group": { "_id": "$status", "count": { "$sum": 1 },
                                  "parts": { "$sum": { "$ifNull": [ "$smsParts", 0 ] } }, "cost": { "$sum": { "$ifNull": [ "$creditCost", 0.0 ] } } } }
                    """),
            ],
            rendered.Documents);
    }

    [Fact]
    public void SmsUsagePipeline_CountsTheSmsOfTheRangePerUtcDay()
    {
        var rendered = MongoDeliveryLog.BuildSmsUsagePipeline(new DateTimeOffset(s_at), new DateTimeOffset(s_at.AddDays(2))).Render(Args<DeliveryDocument>());

        Assert.Equal(
            [
                BsonDocument.Parse("""
                    { "$match": { "createdAt": { "$gte": { "$date": "2026-03-14T09:30:00.123Z" }, "$lt": { "$date": "2026-03-16T09:30:00.123Z" } },
                                  "channel": "Sms" } }
                    """),
                BsonDocument.Parse("""
                    { "$group": { "_id": { "$dateToString": { "format": "%Y-%m-%d", "date": "$createdAt", "timezone": "UTC" } }, "count": { "$sum": 1 },
                                  "parts": { "$sum": { "$ifNull": [ "$smsParts", 0 ] } }, "cost": { "$sum": { "$ifNull": [ "$creditCost", 0.0 ] } },
                                  "ucs2": { "$sum": { "$cond": [ { "$eq": [ "$smsEncoding", "Ucs2" ] }, 1, 0 ] } },
                                  "ucs2Parts": { "$sum": { "$cond": [ { "$eq": [ "$smsEncoding", "Ucs2" ] }, { "$ifNull": [ "$smsParts", 0 ] }, 0 ] } } } }
                    """),
                BsonDocument.Parse("""{ "$sort": { "_id": 1 } }"""),
            ],
            rendered.Documents);
    }

    [Fact]
    public void ReceiptFilters_FindTheTaskByTaskIdOrProviderMessageId_AndSkipAReceiptAlreadyInTheTimeline()
    {
        var byTask = MongoDeliveryLog.BuildReceiptTaskFilter(new ProviderReceipt("brevo", "r1", DeliveryStatus.Delivered, new DateTimeOffset(s_at))
        {
            TaskId = "t1", ProviderMessageId = "<m1@relay>",
        });
        var byMessage = MongoDeliveryLog.BuildReceiptTaskFilter(new ProviderReceipt("bulksms", "r1", DeliveryStatus.Delivered, new DateTimeOffset(s_at))
        {
            ProviderMessageId = "1234",
        });

        Assert.Equal(BsonDocument.Parse("""{ "_id": "t1" }"""), byTask.Render(Args<DeliveryDocument>()));
        Assert.Equal(BsonDocument.Parse("""{ "providerMessageId": "1234", "provider": "bulksms" }"""), byMessage.Render(Args<DeliveryDocument>()));
        Assert.Equal(BsonDocument.Parse("""{ "_id": "t1", "timeline.receiptId": { "$ne": "1234:DELIVERED" } }"""),
            MongoDeliveryLog.BuildReceiptUpdateFilter("t1", "1234:DELIVERED").Render(Args<DeliveryDocument>()));
    }

    [Fact]
    public void SuppressionDocuments_KeyOnChannelAndAddress_AndSearchAsText()
    {
        var document = MongoSuppressionList.ToDocument(new Suppression(NotificationType.Email, "a.b+c@example.org", "hard_bounce", new DateTimeOffset(s_at))
        {
            Source = "brevo", TaskId = "t1",
        });
        var bson = document.ToBsonDocument();

        Assert.Equal("Email:a.b+c@example.org", bson["_id"].AsString);
        Assert.Equal("Email", bson["channel"].AsString);
        Assert.Equal(s_at, bson["at"].ToUniversalTime());
        // '.' and '+' are escaped: the search is for the text, not a pattern.
        Assert.Equal(BsonDocument.Parse("""{ "address": { "$regularExpression": { "pattern": "a\\.b\\+c", "options": "" } } }"""),
            MongoSuppressionList.BuildSearchFilter("a.b+c").Render(Args<SuppressionDocument>()));
        Assert.Equal(new BsonDocument(), MongoSuppressionList.BuildSearchFilter(null).Render(Args<SuppressionDocument>()));
        Assert.Equal(BsonDocument.Parse("""{ "channel": "Sms", "address": "+919876543210" }"""),
            MongoSuppressionList.BuildAuditFilter(NotificationType.Sms, "+919876543210").Render(Args<SuppressionAuditDocument>()));
    }

    [Fact]
    public void Indexes_MakeRollNumberAndBatchNameUnique()
    {
        var students = MongoDocumentDatabase.StudentIndexes();
        var batches = MongoDocumentDatabase.BatchIndexes();

        var rollNumber = Assert.Single(students, i => i.Options.Unique == true);
        Assert.Equal(BsonDocument.Parse("""{ "rollNumber": 1 }"""), rollNumber.Keys.Render(Args<StudentDocument>()));
        var name = Assert.Single(batches, i => i.Options.Unique == true);
        Assert.Equal(BsonDocument.Parse("""{ "name": 1 }"""), name.Keys.Render(Args<BatchDocument>()));
    }

    [Fact]
    public void Indexes_ExpireDeliveryRecordsAfterTheRetention_CountedFromTheLatestEvent()
    {
        var retention = TimeSpan.FromDays(7);

        var indexes = MongoDocumentDatabase.DeliveryLogIndexes(retention);

        var ttl = Assert.Single(indexes, i => i.Options.ExpireAfter is not null);
        Assert.Equal(retention, ttl.Options.ExpireAfter);
        Assert.Equal(MongoDocumentDatabase.DeliveryTtlIndexName, ttl.Options.Name);
        Assert.Equal(BsonDocument.Parse("""{ "updatedAt": 1 }"""), ttl.Keys.Render(Args<DeliveryDocument>()));
        Assert.Equal(
            [
                BsonDocument.Parse("""{ "recipient": 1, "createdAt": -1 }"""),
                BsonDocument.Parse("""{ "batchId": 1, "status": 1 }"""),
                BsonDocument.Parse("""{ "status": 1, "createdAt": -1 }"""),
                BsonDocument.Parse("""{ "createdAt": -1 }"""),
                BsonDocument.Parse("""{ "providerMessageId": 1 }"""),
            ],
            indexes.Where(i => i.Options.ExpireAfter is null).Select(i => i.Keys.Render(Args<DeliveryDocument>())));
        Assert.Equal(
            BsonDocument.Parse("""{ "collMod": "delivery_log", "index": { "name": "ttl_updatedAt", "expireAfterSeconds": { "$numberLong": "604800" } } }"""),
            MongoDocumentDatabase.RetentionChangeCommand(retention));
    }
}
