using MongoDB.Driver;

namespace AppHost.Backends;

/// <summary>
/// The MongoDB client of a health check, made on the first check that knows the connection string (a container's
/// is known only once it has started) and kept for the later ones; a 3 s server selection, so a check fails fast.
/// </summary>
internal sealed class MongoClientOnDemand(Func<CancellationToken, ValueTask<string?>> connectionString)
{
    private MongoClient? _client;

    /// <returns>The client, or null while the connection string is not known yet.</returns>
    public async ValueTask<MongoClient?> GetAsync(CancellationToken cancellationToken)
    {
        if (_client is null)
        {
            var value = await connectionString(cancellationToken).ConfigureAwait(false);
            if (string.IsNullOrEmpty(value))
            {
                return null;
            }
            var settings = MongoClientSettings.FromConnectionString(value);
            settings.ServerSelectionTimeout = TimeSpan.FromSeconds(3);
            _client = new MongoClient(settings);
        }
        return _client;
    }

    public const string NotKnownYet = "The MongoDB connection string is not known yet.";
}
