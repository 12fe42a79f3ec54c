namespace Notifications.Stores;

/// <summary>The database behind the stores: schema creation at start and a liveness probe for health checks.</summary>
internal interface IDocumentDatabase
{
    DocumentStoreProvider Provider { get; }

    /// <summary>Creates tables or collections and indexes that are missing; safe to run from every process at every start.</summary>
    Task EnsureSchemaAsync(CancellationToken cancellationToken);

    Task PingAsync(CancellationToken cancellationToken);
}
