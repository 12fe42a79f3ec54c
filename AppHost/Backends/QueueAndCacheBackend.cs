using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AppHost.Backends;

/// <summary>
/// Chooses the Redis-protocol server that holds the notification queue and the response cache.
/// </summary>
internal static class QueueAndCacheBackend
{
    public const string ResourceName = "redis";

    public static IResourceBuilder<IResourceWithConnectionString> AddQueueAndCache(
        this IDistributedApplicationBuilder builder, BackendChoices choices)
    {
        var configured = ConfiguredConnectionString(builder.Configuration);
        if (configured is not null)
        {
            choices.Record(ResourceName, BackendSource.ConnectionString, RedactPassword(configured));
            return builder.AddConnectionStringWithPing(ResourceName, configured);
        }

        if (builder.ExecutionContext.IsPublishMode)
        {
            // A published app model names the connection string; the deployment supplies it.
            choices.Record(ResourceName, BackendSource.ConnectionString, "supplied at deployment");
            return builder.AddConnectionString(ResourceName);
        }

        if (ContainerRuntimeProbe.EngineAnswers(builder.Configuration["ASPIRE_CONTAINER_RUNTIME"]))
        {
            choices.Record(ResourceName, BackendSource.Container, "redis image, AOF on, noeviction");
            return builder.AddRedis(ResourceName)
                .WithDataVolume("notification-redis-data")
                .WithPersistence(interval: TimeSpan.FromMinutes(1))
                .WithArgs("--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction");
        }

        var dataDirectory = EmbeddedDataDirectory.Resolve(builder, "garnet");
        var garnet = EmbeddedGarnet.Start(dataDirectory, builder.Configuration.GetValue("Backends:Garnet:Port", 0));
        builder.Services.AddHostedService(_ => garnet);
        choices.Record(ResourceName, BackendSource.Embedded, $"Garnet in the AppHost process on {garnet.Endpoint}, data in {dataDirectory}");
        return builder.AddConnectionStringWithPing(ResourceName, garnet.Endpoint);
    }

    /// <summary>
    /// <c>ConnectionStrings:redis</c>, else the old backend's <c>REDIS_HOST</c>/<c>REDIS_PORT</c>/<c>REDIS_DB</c>.
    /// </summary>
    internal static string? ConfiguredConnectionString(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(ResourceName);
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            return connectionString;
        }

        var host = configuration["REDIS_HOST"];
        if (string.IsNullOrWhiteSpace(host))
        {
            return null;
        }
        var port = configuration["REDIS_PORT"] is { Length: > 0 } p ? p : "6379";
        var database = configuration["REDIS_DB"] is { Length: > 0 } db ? $",defaultDatabase={db}" : "";
        var password = configuration["REDIS_PASSWORD"] is { Length: > 0 } pw ? $",password={pw}" : "";
        return $"{host}:{port}{database}{password}";
    }

    private static IResourceBuilder<IResourceWithConnectionString> AddConnectionStringWithPing(
        this IDistributedApplicationBuilder builder, string name, string connectionString)
    {
        var healthCheckKey = $"{name}-ping";
        builder.Services.AddHealthChecks().AddRedis(connectionString, name: healthCheckKey);
        return builder.AddConnectionString(name, ReferenceExpression.Create($"{connectionString}"))
            .WithHealthCheck(healthCheckKey);
    }

    private static string RedactPassword(string connectionString) =>
        string.Join(',', connectionString.Split(',').Select(part =>
            part.TrimStart().StartsWith("password=", StringComparison.OrdinalIgnoreCase) ? "password=***" : part));
}
