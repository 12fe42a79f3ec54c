using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AppHost.Backends;

/// <summary>The system of record the services are told to use, and how to reach it.</summary>
public sealed record DocumentStoreChoice(IResourceBuilder<IResourceWithConnectionString> Connection, string Provider);

/// <summary>
/// Chooses the system of record: MongoDB (configured server or container) or the embedded SQLite file.
/// Services read <c>DocumentStore:Provider</c> and <c>ConnectionStrings:documents</c>.
/// </summary>
internal static class DocumentStoreBackend
{
    public const string ResourceName = "documents";
    public const string MongoDbProvider = "MongoDb";
    public const string SqliteProvider = "Sqlite";

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
            choices.Record(ResourceName, BackendSource.Container, "mongo image, WiredTiger cache 0.25 GB");
            var mongo = builder.AddContainer("mongodb", "mongo", "7.0")
                .WithEndpoint(targetPort: 27017, name: "tcp", scheme: "tcp")
                .WithVolume("notification-mongodb-data", "/data/db")
                .WithArgs("--wiredTigerCacheSizeGB", "0.25");
            var endpoint = mongo.GetEndpoint("tcp");
            var connection = builder.AddConnectionString(ResourceName, ReferenceExpression.Create(
                $"mongodb://{endpoint.Property(EndpointProperty.Host)}:{endpoint.Property(EndpointProperty.Port)}/notifications"));

            var checkKey = $"{ResourceName}-mongodb-ping";
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                checkKey, _ => new MongoPingHealthCheck(ct => connection.Resource.ConnectionStringExpression.GetValueAsync(ct)), HealthStatus.Unhealthy, tags: null));
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
