using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Bson.Serialization.Conventions;
using MongoDB.Bson.Serialization.Options;
using MongoDB.Bson.Serialization.Serializers;

namespace Notifications.Stores.MongoDb;

/// <summary>
/// How the documents look in MongoDB: camelCase element names, enums as strings (readable in mongosh and
/// stable if an enum is reordered), UTC dates, answers as an array of key/value documents.
/// </summary>
internal static class MongoClassMaps
{
    // Delivery log element names, used by the update pipeline that cannot be written with typed builders.
    public static class Delivery
    {
        public const string Status = "status";
        public const string Channel = "channel";
        public const string Recipient = "recipient";
        public const string Attempts = "attempts";
        public const string Provider = "provider";
        public const string ProviderMessageId = "providerMessageId";
        public const string LastError = "lastError";
        public const string BatchId = "batchId";
        public const string SubmissionId = "submissionId";
        public const string StudentId = "studentId";
        public const string CreatedAt = "createdAt";
        public const string UpdatedAt = "updatedAt";
        public const string Timeline = "timeline";
        public const string EventAt = "at";
        public const string EventAttempt = "attempt";
        public const string EventError = "error";
        public const string EventReceiptId = "receiptId";
        public const string SmsParts = "smsParts";
        public const string SmsEncoding = "smsEncoding";
        public const string CreditCost = "creditCost";
    }

    private static readonly Lazy<bool> s_registered = new(RegisterOnce, LazyThreadSafetyMode.ExecutionAndPublication);

    public static void EnsureRegistered() => _ = s_registered.Value;

    private static bool RegisterOnce()
    {
        var documentsNamespace = typeof(StudentDocument).Namespace;
        ConventionRegistry.Register(
            "Notifications.Stores",
            new ConventionPack
            {
                new CamelCaseElementNameConvention(),
                new EnumRepresentationConvention(BsonType.String),
                // Fields added by later versions must not break reading by older processes mid-deployment.
                new IgnoreExtraElementsConvention(true),
            },
            type => type.Namespace == documentsNamespace);

        var utc = new DateTimeSerializer(DateTimeKind.Utc);
        BsonClassMap.TryRegisterClassMap<StudentDocument>(map =>
        {
            map.AutoMap();
            map.MapIdMember(d => d.Id);
            map.MapMember(d => d.CreatedAt).SetSerializer(utc);
            map.MapMember(d => d.UpdatedAt).SetSerializer(utc);
        });
        BsonClassMap.TryRegisterClassMap<FormDocument>(map =>
        {
            map.AutoMap();
            map.MapIdMember(d => d.Id);
            map.MapMember(d => d.CreatedAt).SetSerializer(utc);
        });
        BsonClassMap.TryRegisterClassMap<FormFieldDocument>(map => map.AutoMap());
        BsonClassMap.TryRegisterClassMap<SubmissionDocument>(map =>
        {
            map.AutoMap();
            map.MapIdMember(d => d.Id);
            map.MapMember(d => d.SubmittedAt).SetSerializer(utc);
            // Answer keys are form field names typed by staff: as BSON element names a '.' or '$' would be trouble.
            map.MapMember(d => d.Answers).SetSerializer(
                new DictionaryInterfaceImplementerSerializer<Dictionary<string, string>>(DictionaryRepresentation.ArrayOfDocuments));
        });
        BsonClassMap.TryRegisterClassMap<BatchDocument>(map =>
        {
            map.AutoMap();
            map.MapIdMember(d => d.Id);
            map.MapMember(d => d.CreatedAt).SetSerializer(utc);
        });
        BsonClassMap.TryRegisterClassMap<DeliveryDocument>(map =>
        {
            map.AutoMap();
            map.MapIdMember(d => d.TaskId);
            map.MapMember(d => d.CreatedAt).SetSerializer(utc);
            map.MapMember(d => d.UpdatedAt).SetSerializer(utc);
        });
        BsonClassMap.TryRegisterClassMap<DeliveryEventDocument>(map =>
        {
            map.AutoMap();
            map.MapMember(d => d.At).SetSerializer(utc);
        });
        BsonClassMap.TryRegisterClassMap<SuppressionDocument>(map =>
        {
            map.AutoMap();
            map.MapIdMember(d => d.Id);
            map.MapMember(d => d.At).SetSerializer(utc);
        });
        BsonClassMap.TryRegisterClassMap<SuppressionAuditDocument>(map =>
        {
            map.AutoMap();
            map.MapIdMember(d => d.Id);
            map.MapMember(d => d.At).SetSerializer(utc);
        });
        BsonClassMap.TryRegisterClassMap<OutboxDocument>(map =>
        {
            map.AutoMap();
            map.MapIdMember(d => d.TaskId);
            map.MapMember(d => d.CreatedAt).SetSerializer(utc);
        });
        return true;
    }
}
