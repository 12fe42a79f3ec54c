using Microsoft.Extensions.Diagnostics.HealthChecks;
using MongoDB.Bson;
using MongoDB.Driver;

namespace AppHost.Backends;

/// <summary>
/// For the AppHost's own <c>mongo</c> container, started with <c>--replSet</c>: initiates its one-member replica
/// set when it has none yet (a fresh data volume, or one a standalone server used before), and is healthy once
/// that member is the writable primary. The services wait for this check, so their first transaction finds a
/// primary. The set's configuration is kept in the data volume: later starts only wait for the election.
/// </summary>
/// <remarks>
/// The connection string must carry <c>directConnection=true</c>: an uninitiated member is no replica set member
/// the driver would select otherwise, and the member's name in the set (<see cref="MemberHost"/>, as the server sees
/// itself inside the container) is not the address the host reaches it on.
/// </remarks>
internal sealed class MongoReplicaSetHealthCheck(Func<CancellationToken, ValueTask<string?>> connectionString, string replicaSetName) : IHealthCheck
{
    /// <summary>The member's host in the set's configuration: the container's own view of itself.</summary>
    public const string MemberHost = "127.0.0.1:27017";

    private const int AlreadyInitialized = 23;

    private readonly MongoClientOnDemand _client = new(connectionString);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            if (await _client.GetAsync(cancellationToken).ConfigureAwait(false) is not { } client)
            {
                return HealthCheckResult.Unhealthy(MongoClientOnDemand.NotKnownYet);
            }
            var admin = client.GetDatabase("admin");
            var hello = await admin.RunCommandAsync<BsonDocument>(new BsonDocument("hello", 1), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (hello.GetValue("isWritablePrimary", false).ToBoolean())
            {
                return HealthCheckResult.Healthy($"Primary of the replica set {hello.GetValue("setName", replicaSetName)}.");
            }
            if (hello.Contains("setName"))
            {
                return HealthCheckResult.Unhealthy($"Replica set {hello["setName"]}: this member is not the primary yet.");
            }
            if (!hello.GetValue("isreplicaset", false).ToBoolean())
            {
                return HealthCheckResult.Unhealthy("MongoDB runs without --replSet; the document store's transactions need a replica set.");
            }
            await admin.RunCommandAsync<BsonDocument>(InitiateCommand(replicaSetName), cancellationToken: cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Unhealthy($"Initiated the one-member replica set {replicaSetName}; waiting for its primary.");
        }
        catch (MongoCommandException ex) when (ex.Code == AlreadyInitialized)
        {
            // Initiated in the meantime (an earlier check, or a restart still loading its configuration).
            return HealthCheckResult.Unhealthy($"Replica set {replicaSetName} is initiated; waiting for its primary.");
        }
        catch (Exception ex) when (ex is MongoException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("MongoDB did not answer.", ex);
        }
    }

    /// <summary><c>rs.initiate({ _id: name, members: [{ _id: 0, host: "127.0.0.1:27017" }] })</c> as a command.</summary>
    internal static BsonDocument InitiateCommand(string replicaSetName) => new(
        "replSetInitiate",
        new BsonDocument
        {
            { "_id", replicaSetName },
            { "members", new BsonArray { new BsonDocument { { "_id", 0 }, { "host", MemberHost } } } },
        });
}
