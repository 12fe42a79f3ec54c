using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Notifications.Stores;
using Notifications.Stores.MongoDb;
using Notifications.Stores.Sqlite;

namespace Microsoft.Extensions.Hosting;

public static class DocumentStoreExtensions
{
    public const string HealthCheckName = "document-store";

    /// <summary>
    /// Registers the system of record chosen by <c>DocumentStore:Provider</c> (<c>MongoDb</c> or <c>Sqlite</c>)
    /// at <c>ConnectionStrings:documents</c>: <see cref="IStudentStore"/>, <see cref="IFormStore"/>,
    /// <see cref="IFormSubmissionStore"/>, <see cref="IBatchStore"/>, <see cref="IDeliveryLog"/>,
    /// <see cref="INotificationOutbox"/> and <see cref="ISuppressionList"/>, a health check, schema creation at start and, for SQLite, delivery-log
    /// pruning. Options are validated at start. MongoDB must be a replica set (the stores write transactions).
    /// </summary>
    public static TBuilder AddDocumentStore<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(IDocumentDatabase)))
        {
            return builder;
        }

        services.AddOptions<DocumentStoreOptions>()
            .BindConfiguration(DocumentStoreOptions.SectionName)
            .Configure<IConfiguration>((options, configuration) =>
                options.ConnectionString = configuration.GetConnectionString(DocumentStoreOptions.ConnectionStringName) ?? options.ConnectionString)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SqliteDocumentDatabase>();
        services.TryAddSingleton<MongoDocumentDatabase>();
        services.AddSingleton<IDocumentDatabase>(sp => Chosen<IDocumentDatabase, SqliteDocumentDatabase, MongoDocumentDatabase>(sp));
        AddStore<IStudentStore, SqliteStudentStore, MongoStudentStore>(services);
        AddStore<IFormStore, SqliteFormStore, MongoFormStore>(services);
        AddStore<IFormSubmissionStore, SqliteFormSubmissionStore, MongoFormSubmissionStore>(services);
        AddStore<IBatchStore, SqliteBatchStore, MongoBatchStore>(services);
        AddStore<IDeliveryLog, SqliteDeliveryLog, MongoDeliveryLog>(services);
        AddStore<INotificationOutbox, SqliteOutbox, MongoOutbox>(services);
        AddStore<ISuppressionList, SqliteSuppressionList, MongoSuppressionList>(services);

        services.AddHostedService<DocumentStoreInitializer>();
        services.AddHostedService<DeliveryLogPruner>();
        services.AddHealthChecks().AddCheck<DocumentStoreHealthCheck>(HealthCheckName, tags: ["ready"]);
        return builder;
    }

    private static void AddStore<TStore, TSqlite, TMongo>(IServiceCollection services)
        where TStore : class
        where TSqlite : class, TStore
        where TMongo : class, TStore
    {
        services.TryAddSingleton<TSqlite>();
        services.TryAddSingleton<TMongo>();
        services.AddSingleton<TStore>(sp => Chosen<TStore, TSqlite, TMongo>(sp));
    }

    // Resolved lazily so only the chosen backend is ever constructed (no MongoClient in SQLite mode).
    private static TService Chosen<TService, TSqlite, TMongo>(IServiceProvider services)
        where TService : class
        where TSqlite : class, TService
        where TMongo : class, TService =>
        services.GetRequiredService<IOptions<DocumentStoreOptions>>().Value.Provider switch
        {
            DocumentStoreProvider.Sqlite => services.GetRequiredService<TSqlite>(),
            DocumentStoreProvider.MongoDb => services.GetRequiredService<TMongo>(),
            var other => throw new InvalidOperationException($"{DocumentStoreOptions.SectionName}:Provider '{other}' is not MongoDb or Sqlite."),
        };
}
