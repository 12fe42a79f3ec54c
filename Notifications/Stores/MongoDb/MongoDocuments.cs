using MongoDB.Bson;
using Notifications.Tasks;
namespace Notifications.Stores.MongoDb;

// Storage shapes of the MongoDB collections. Element names and serializers are set in MongoClassMaps, so
// the public records stay free of BSON concerns and the stored shape is written down in one place.

internal sealed class StudentDocument
{
    public string Id { get; set; } = "";
    public string RollNumber { get; set; } = "";
    public string Name { get; set; } = "";
    public string Email { get; set; } = "";
    public string Phone { get; set; } = "";
    public string? BatchId { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

internal sealed class FormDocument
{
    public string Id { get; set; } = "";
    public string Title { get; set; } = "";
    public bool IsActive { get; set; }
    public List<FormFieldDocument> Fields { get; set; } = [];
    public DateTime CreatedAt { get; set; }
}

internal sealed class FormFieldDocument
{
    public string Name { get; set; } = "";
    public string Label { get; set; } = "";
    public string Type { get; set; } = "";
    public bool Required { get; set; }
}

internal sealed class SubmissionDocument
{
    public string Id { get; set; } = "";
    public string FormId { get; set; } = "";
    public string StudentId { get; set; } = "";
    public string RollNumber { get; set; } = "";
    public Dictionary<string, string> Answers { get; set; } = [];
    public string Status { get; set; } = "";
    public DateTime SubmittedAt { get; set; }
}

internal sealed class BatchDocument
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public List<string> StudentIds { get; set; } = [];
}

internal sealed class DeliveryDocument
{
    public string TaskId { get; set; } = "";
    public DeliveryStatus Status { get; set; }
    public NotificationType Channel { get; set; }
    public string Recipient { get; set; } = "";
    public int Attempts { get; set; }
    public string? Provider { get; set; }
    public string? ProviderMessageId { get; set; }
    public string? LastError { get; set; }
    public string? BatchId { get; set; }
    public string? SubmissionId { get; set; }
    public string? StudentId { get; set; }
    public DateTime CreatedAt { get; set; }
    /// <summary>The latest event's time; the TTL index counts retention from here.</summary>
    public DateTime UpdatedAt { get; set; }
    public int? SmsParts { get; set; }
    public SmsEncoding? SmsEncoding { get; set; }
    public double? CreditCost { get; set; }
    public List<DeliveryEventDocument> Timeline { get; set; } = [];
}

internal sealed class DeliveryEventDocument
{
    public DeliveryStatus Status { get; set; }
    public DateTime At { get; set; }
    public int Attempt { get; set; }
    public string? Error { get; set; }
    public string? ProviderMessageId { get; set; }
    /// <summary>Set on a provider's receipt; an update adds a receipt only if no event has its id.</summary>
    public string? ReceiptId { get; set; }
}

/// <summary>
/// A notification waiting in the outbox. The id is the task id, a ULID: its order is creation order, so sorting by
/// <c>_id</c> reads the oldest first.
/// </summary>
internal sealed class OutboxDocument
{
    public string TaskId { get; set; } = "";
    /// <summary>The task body exactly as the Api serialized it; the relay enqueues these bytes.</summary>
    public byte[] Body { get; set; } = [];
    public DateTime CreatedAt { get; set; }
}

/// <summary>A suppressed recipient; the id is <c>channel:address</c>, so an address is on the list once.</summary>
internal sealed class SuppressionDocument
{
    public string Id { get; set; } = "";
    public NotificationType Channel { get; set; }
    public string Address { get; set; } = "";
    public string Reason { get; set; } = "";
    public string? Source { get; set; }
    public string? TaskId { get; set; }
    public DateTime At { get; set; }

    public static string IdOf(NotificationType channel, string address) => channel + ":" + address;
}

internal sealed class SuppressionAuditDocument
{
    public ObjectId Id { get; set; }
    public string Action { get; set; } = "";
    public NotificationType Channel { get; set; }
    public string Address { get; set; } = "";
    public string? Reason { get; set; }
    public string Actor { get; set; } = "";
    public DateTime At { get; set; }
}
