using System.Text.Json;
using StackExchange.Redis;

namespace Notifications.Monitoring;

/// <summary>A provider whose circuit a worker opened: its sends wait in the queue, no attempt used.</summary>
public sealed record ProviderCircuit(string Provider, DateTimeOffset Since, DateTimeOffset Until, string Reason);

/// <summary>
/// Where workers report the provider circuits they open, for the Api's alerts and the dashboard. One
/// Redis hash, a field per provider; each report holds until a time (the break plus a margin), so a
/// worker that dies with an open circuit does not leave a stale alert behind.
/// </summary>
public sealed class ProviderCircuits(IConnectionMultiplexer redis)
{
    public static readonly RedisKey Key = "{providers}:circuits";

    public async Task ReportOpenAsync(ProviderCircuit circuit) =>
        await redis.GetDatabase().HashSetAsync(Key, circuit.Provider, JsonSerializer.Serialize(circuit)).ConfigureAwait(false);

    public async Task ReportClosedAsync(string provider) =>
        await redis.GetDatabase().HashDeleteAsync(Key, provider).ConfigureAwait(false);

    /// <summary>The circuits open at <paramref name="now"/>; reports that cannot be read are skipped.</summary>
    public async Task<IReadOnlyList<ProviderCircuit>> ListOpenAsync(DateTimeOffset now)
    {
        var open = new List<ProviderCircuit>();
        foreach (var entry in await redis.GetDatabase().HashGetAllAsync(Key).ConfigureAwait(false))
        {
            ProviderCircuit? circuit;
            try
            {
                circuit = JsonSerializer.Deserialize<ProviderCircuit>((string)entry.Value!);
            }
            catch (JsonException)
            {
                continue;
            }
            if (circuit is not null && circuit.Until > now)
            {
                open.Add(circuit);
            }
        }
        return open.OrderBy(c => c.Provider, StringComparer.Ordinal).ToList();
    }
}
