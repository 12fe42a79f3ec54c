using System.ComponentModel.DataAnnotations;

namespace Notifications.Stores;

public enum DocumentStoreProvider
{
    Sqlite,
    MongoDb,
}

/// <summary>
/// The <c>DocumentStore</c> section. The AppHost sets <c>DocumentStore:Provider</c> and
/// <c>ConnectionStrings:documents</c>, which fills <see cref="ConnectionString"/>.
/// </summary>
public sealed class DocumentStoreOptions
{
    public const string SectionName = "DocumentStore";
    public const string ConnectionStringName = "documents";
    /// <summary>Used when a MongoDB connection string names no database.</summary>
    public const string DefaultMongoDatabaseName = "notifications";
    public static readonly TimeSpan DefaultDeliveryLogRetention = TimeSpan.FromDays(30);
    public static readonly TimeSpan DefaultSqliteBusyTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultPruneInterval = TimeSpan.FromHours(1);

    [Required]
    public DocumentStoreProvider? Provider { get; set; }

    [Required(AllowEmptyStrings = false)]
    public string? ConnectionString { get; set; }

    /// <summary>How long a delivery record is kept after its latest event (MongoDB: TTL index; SQLite: pruning).</summary>
    [Range(typeof(TimeSpan), "01:00:00", "3650.00:00:00")]
    public TimeSpan DeliveryLogRetention { get; set; } = DefaultDeliveryLogRetention;

    /// <summary>How often the SQLite store deletes delivery records past their retention.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan PruneInterval { get; set; } = DefaultPruneInterval;

    /// <summary>How long a SQLite writer waits for another process's write lock before failing.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan SqliteBusyTimeout { get; set; } = DefaultSqliteBusyTimeout;
}
