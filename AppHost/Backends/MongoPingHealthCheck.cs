using Microsoft.Extensions.Diagnostics.HealthChecks;
using MongoDB.Bson;
using MongoDB.Driver;

namespace AppHost.Backends;

/// <summary>Healthy when the MongoDB server answers <c>ping</c>.</summary>
internal sealed class MongoPingHealthCheck(Func<CancellationToken, ValueTask<string?>> connectionString) : IHealthCheck
{
    private readonly MongoClientOnDemand _client = new(connectionString);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            if (await _client.GetAsync(cancellationToken).ConfigureAwait(false) is not { } client)
            {
                return HealthCheckResult.Unhealthy(MongoClientOnDemand.NotKnownYet);
            }
            await client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), cancellationToken: cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is MongoException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("MongoDB did not answer ping.", ex);
        }
    }
}
