using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AppHost.Backends;

/// <summary>The system of record the services are told to use, and how to reach it.</summary>
public sealed record DocumentStoreChoice(IResourceBuilder<IResourceWithConnectionString> Connection, string Provider);

/// <summary>
/// Chooses the system of record: MongoDB (configured server or container) or the embedded SQLite file.
/// Services read <c>DocumentStore:Provider</c> and <c>ConnectionStrings:documents</c>. MongoDB must be a replica
/// set (the stores write a record and its notifications in one transaction): the container is a one-member set
/// the AppHost initiates, a configured server must be one already (the services refuse a standalone at start).
/// </summary>
internal static class DocumentStoreBackend
{
    public const string ResourceName = "documents";
    public const string MongoDbProvider = "MongoDb";
    public const string SqliteProvider = "Sqlite";
    /// <summary>The one-member replica set of the container and of the Ubuntu VM's mongod.</summary>
    public const string MongoReplicaSet = "rs0";

    public static DocumentStoreChoice AddDocumentStore(this IDistributedApplicationBuilder builder, BackendChoices choices)
    {
        // MONGODB_URI is the old backend's variable; ConnectionStrings:documents the Aspire way.
        var configured = builder.Configuration.GetConnectionString(ResourceName) is { Length: > 0 } cs ? cs : builder.Configuration["MONGODB_URI"];
        if (!string.IsNullOrWhiteSpace(configured))
        {
            choices.Record(ResourceName, BackendSource.ConnectionString, "MongoDB at " + RedactCredentials(configured));
            var checkKey = $"{ResourceName}-mongodb-ping";
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                checkKey, _ => new MongoPingHealthCheck(_ => ValueTask.FromResult<string?>(configured)), HealthStatus.Unhealthy, tags: null));
            var connection = builder.AddConnectionString(ResourceName, ReferenceExpression.Create($"{configured}")).WithHealthCheck(checkKey);
            return new DocumentStoreChoice(connection, MongoDbProvider);
        }

        if (builder.ExecutionContext.IsPublishMode)
        {
            choices.Record(ResourceName, BackendSource.ConnectionString, "MongoDB, supplied at deployment");
            return new DocumentStoreChoice(builder.AddConnectionString(ResourceName), MongoDbProvider);
        }

        if (ContainerRuntimeProbe.EngineAnswers(builder.Configuration["ASPIRE_CONTAINER_RUNTIME"]))
        {
            choices.Record(ResourceName, BackendSource.Container, $"mongo image, replica set {MongoReplicaSet}, WiredTiger cache 0.25 GB");
            // A one-member replica set, for the stores' transactions. The health check below initiates it the first
            // time (the data volume keeps it) and lets the services start once the member is primary.
            var mongo = builder.AddContainer("mongodb", "mongo", "7.0")
                .WithEndpoint(targetPort: 27017, name: "tcp", scheme: "tcp")
                .WithVolume("notification-mongodb-data", "/data/db")
                .WithArgs("--replSet", MongoReplicaSet, "--wiredTigerCacheSizeGB", "0.25");
            var endpoint = mongo.GetEndpoint("tcp");
            // directConnection: the set names its member as the container sees itself (127.0.0.1:27017), not by the
            // host's mapped port, so the driver must talk to the given address instead of discovering the set.
            var connection = builder.AddConnectionString(ResourceName, ReferenceExpression.Create(
                $"mongodb://{endpoint.Property(EndpointProperty.Host)}:{endpoint.Property(EndpointProperty.Port)}/notifications?directConnection=true"));

            var checkKey = $"{ResourceName}-mongodb-replica-set";
            // One instance for every run of the check: it keeps its client.
            var replicaSetCheck = new MongoReplicaSetHealthCheck(ct => connection.Resource.ConnectionStringExpression.GetValueAsync(ct), MongoReplicaSet);
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(checkKey, _ => replicaSetCheck, HealthStatus.Unhealthy, tags: null));
            connection.WithHealthCheck(checkKey);
            return new DocumentStoreChoice(connection.WaitFor(mongo), MongoDbProvider);
        }

        var file = Path.Combine(EmbeddedDataDirectory.Resolve(builder, "sqlite"), "notifications.db");
        choices.Record(ResourceName, BackendSource.Embedded, $"SQLite file {file}");
        return new DocumentStoreChoice(
            builder.AddConnectionString(ResourceName, ReferenceExpression.Create($"Data Source={file}")),
            SqliteProvider);
    }

    public static IResourceBuilder<ProjectResource> WithDocumentStore(
        this IResourceBuilder<ProjectResource> project, DocumentStoreChoice store) =>
        project.WithReference(store.Connection)
            .WaitFor(store.Connection)
            .WithEnvironment("DocumentStore__Provider", store.Provider);

    private static string RedactCredentials(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var parsed) && parsed.UserInfo.Length > 0
            ? uri.Replace(parsed.UserInfo + "@", "***@", StringComparison.Ordinal)
            : uri;
}
