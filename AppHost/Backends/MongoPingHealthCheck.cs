using Microsoft.Extensions.Diagnostics.HealthChecks;
using MongoDB.Bson;
using MongoDB.Driver;

namespace AppHost.Backends;

/// <summary>Healthy when the MongoDB server answers <c>ping</c>.</summary>
internal sealed class MongoPingHealthCheck(Func<CancellationToken, ValueTask<string?>> connectionString) : IHealthCheck
{
    private MongoClient? _client;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            if (_client is null)
            {
                var value = await connectionString(cancellationToken).ConfigureAwait(false);
                if (string.IsNullOrEmpty(value))
                {
                    return HealthCheckResult.Unhealthy("The MongoDB connection string is not known yet.");
                }
                var settings = MongoClientSettings.FromConnectionString(value);
                settings.ServerSelectionTimeout = TimeSpan.FromSeconds(3);
                _client = new MongoClient(settings);
            }
            await _client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), cancellationToken: cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is MongoException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("MongoDB did not answer ping.", ex);
        }
    }
}
