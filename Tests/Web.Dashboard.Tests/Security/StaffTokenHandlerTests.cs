using System.Net;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Web.Dashboard.Security;
using Web.Dashboard.Services;
using Web.Dashboard.Tests.Support;

namespace Web.Dashboard.Tests.Security;

public sealed class StaffTokenHandlerTests
{
    private const string SigningKey = DashboardContext.SigningKey;

    [Fact]
    public async Task Request_CarriesAnHs256TokenWithStaffRoleAndTheUserAsSubject()
    {
        var api = new FakeApi().Answer("GET", "/api/monitoring/cache", new { hits = 1, misses = 0, hitRate = 1.0 });

        var result = await Client(api, SignedIn("admin")).GetCacheStatsAsync(TestContext.Current.CancellationToken);

        Assert.True(result.Succeeded);
        var token = Assert.Single(api.Requests).Headers.Authorization!.Parameter!;
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(SigningKey)),
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ValidateIssuer = false,
            ValidateAudience = false,
        });
        Assert.True(validation.IsValid, validation.Exception?.Message);
        Assert.Equal("admin", validation.Claims["sub"]);
        Assert.Equal("staff", validation.Claims["role"]);
        var jwt = (JsonWebToken)validation.SecurityToken;
        Assert.InRange(jwt.ValidTo - jwt.IssuedAt, TimeSpan.FromMinutes(4), ApiTokenOptions.DefaultLifetime);
    }

    [Fact]
    public async Task Client_SendsNothing_WhenNobodyIsSignedIn()
    {
        var api = new FakeApi().Answer("GET", "/api/monitoring/cache", new { hits = 1, misses = 0, hitRate = 1.0 });

        var result = await Client(api, new ClaimsPrincipal(new ClaimsIdentity())).GetCacheStatsAsync(TestContext.Current.CancellationToken);

        Assert.False(result.Succeeded);
        Assert.Equal((int)HttpStatusCode.Unauthorized, result.StatusCode);
        Assert.Empty(api.Requests);
    }

    [Fact]
    public async Task Health_ReadsTheApisDependencyList()
    {
        var api = new FakeApi().Answer("GET", "/api/monitoring/health",
            new { status = "unhealthy", dependencies = new[] { new { name = "worker", status = "unhealthy", description = "No worker has reported recently." } } });

        var result = await Client(api, SignedIn("admin")).GetHealthAsync(TestContext.Current.CancellationToken);

        var worker = Assert.Single(result.Value!.All);
        Assert.Equal(("worker", "unhealthy"), (worker.Name, worker.Status));
    }

    [Fact]
    public async Task Health_IsRead_EvenWhenTheApiAnswers503()
    {
        var api = new FakeApi().Answer("GET", "/api/monitoring/health",
            new { status = "Unhealthy", checks = new { redis = new { status = "Unhealthy", description = "no answer", error = "timeout" } } },
            HttpStatusCode.ServiceUnavailable);

        var result = await Client(api, SignedIn("admin")).GetHealthAsync(TestContext.Current.CancellationToken);

        Assert.True(result.Succeeded);
        Assert.Equal("Unhealthy", Assert.Single(result.Value!.All, d => d.Name == "redis").Status);
    }

    private static ClaimsPrincipal SignedIn(string name) => new(new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], "test"));

    private static NotificationsApiClient Client(FakeApi api, ClaimsPrincipal user)
    {
        var issuer = new ApiTokenIssuer(Options.Create(new ApiTokenOptions { SigningKey = SigningKey }), TimeProvider.System);
        var http = new HttpClient(new StaffTokenHandler(issuer) { InnerHandler = api }) { BaseAddress = new Uri("http://api") };
        return new NotificationsApiClient(http, new FixedAuthentication(user), NullLogger<NotificationsApiClient>.Instance);
    }

    private sealed class FixedAuthentication(ClaimsPrincipal user) : AuthenticationStateProvider
    {
        public override Task<AuthenticationState> GetAuthenticationStateAsync() => Task.FromResult(new AuthenticationState(user));
    }
}
