using System.Net.Http.Json;
using System.Text.Json;

namespace Web.Dashboard.Services;

/// <summary>The dashboard's only way to the data: the Api, found by service discovery.</summary>
public sealed class NotificationsApiClient(HttpClient http)
{
    public async Task<DependencyHealth> GetHealthAsync(CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync("/health", cancellationToken);
        // /health answers 503 with the same body when a check fails; the body is what we show.
        var report = await response.Content.ReadFromJsonAsync<DependencyHealth>(JsonSerializerOptions.Web, cancellationToken);
        return report ?? new DependencyHealth("Unknown", new Dictionary<string, DependencyCheck>());
    }
}

public sealed record DependencyHealth(string Status, IReadOnlyDictionary<string, DependencyCheck> Checks);

public sealed record DependencyCheck(string Status, string? Description, string? Error);
