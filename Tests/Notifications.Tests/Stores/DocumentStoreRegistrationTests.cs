using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Notifications.Stores;
using Notifications.Stores.MongoDb;

namespace Notifications.Tests.Stores;

/// <summary><c>AddDocumentStore()</c> as the Api and the worker call it.</summary>
public sealed class DocumentStoreRegistrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddDocumentStore();
        return builder.Build();
    }

    [Fact]
    public async Task Start_FailsWithTheMissingSetting_WhenNoProviderIsConfigured()
    {
        using var host = Build(new() { ["ConnectionStrings:documents"] = $"Data Source={StoreHarness.NewSqliteFile()}" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Ct));

        Assert.Contains(nameof(DocumentStoreOptions.Provider), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_FailsWithTheMissingSetting_WhenNoConnectionStringIsConfigured()
    {
        using var host = Build(new() { ["DocumentStore:Provider"] = "Sqlite" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Ct));

        Assert.Contains(nameof(DocumentStoreOptions.ConnectionString), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthCheck_ReportsHealthy_WhenTheSqliteFileAnswers()
    {
        await using var stores = await StoreHarness.StartSqliteAsync();

        var report = await stores.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct);

        Assert.Equal(HealthStatus.Healthy, report.Entries[DocumentStoreExtensions.HealthCheckName].Status);
    }

    [Fact]
    public async Task HealthCheck_ReportsUnhealthy_WhenMongoDbDoesNotAnswer()
    {
        using var database = new MongoDocumentDatabase(Options.Create(new DocumentStoreOptions
        {
            Provider = DocumentStoreProvider.MongoDb,
            ConnectionString = "mongodb://127.0.0.1:9/notifications?serverSelectionTimeoutMS=200&connectTimeoutMS=200",
        }));
        var check = new DocumentStoreHealthCheck(database);
        var registration = new HealthCheckRegistration(DocumentStoreExtensions.HealthCheckName, check, HealthStatus.Unhealthy, tags: null);

        var result = await check.CheckHealthAsync(new HealthCheckContext { Registration = registration }, Ct);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
    }

    [Fact]
    public void Stores_AreTheMongoDbImplementations_WhenTheProviderIsMongoDb()
    {
        using var host = Build(new()
        {
            ["DocumentStore:Provider"] = "MongoDb",
            ["ConnectionStrings:documents"] = "mongodb://127.0.0.1:9/notifications",
        });

        Assert.IsType<MongoStudentStore>(host.Services.GetRequiredService<IStudentStore>());
        Assert.IsType<MongoDeliveryLog>(host.Services.GetRequiredService<IDeliveryLog>());
        Assert.Equal("notifications", host.Services.GetRequiredService<MongoDocumentDatabase>().Database.DatabaseNamespace.DatabaseName);
    }
}
