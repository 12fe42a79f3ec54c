using System.Net.Http.Headers;

namespace Web.Dashboard.Security;

/// <summary>
/// Puts a fresh staff token on every request to the Api. The user comes with the request
/// (<see cref="StaffUserName"/>) because this handler lives in the HttpClient factory's own scope,
/// which cannot see the Blazor circuit of the person signed in.
/// </summary>
public sealed class StaffTokenHandler(ApiTokenIssuer issuer) : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<string> StaffUserName = new("Dashboard.StaffUserName");

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Options.TryGetValue(StaffUserName, out var userName) || string.IsNullOrWhiteSpace(userName))
        {
            throw new InvalidOperationException("A request to the Api must name the signed-in staff member; nothing is sent anonymously.");
        }
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", issuer.MintFor(userName));
        return base.SendAsync(request, cancellationToken);
    }
}
