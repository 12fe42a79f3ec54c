using System.Net;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AppHost.Tests;

/// <summary>
/// Starts the real AppHost (embedded backends on a machine without Docker) and talks to it over HTTP.
/// </summary>
public sealed class WholeSystemTests
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task AppHost_BringsEveryResourceToHealthy_AndServesApiHealthAndTheDashboardSignIn()
    {
        using var cts = new CancellationTokenSource(s_startTimeout);
        var ct = cts.Token;

        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            [$"Backends:EmbeddedDataDirectory={Directory.CreateTempSubdirectory("apphost-test-").FullName}"], ct);
        appHost.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Information));
        appHost.Services.ConfigureHttpClientDefaults(http => http.AddStandardResilienceHandler());

        await using var app = await appHost.BuildAsync(ct);
        await app.StartAsync(ct);

        foreach (var resource in new[] { "redis", "documents", "api", "notification-worker", "web-dashboard" })
        {
            await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, ct);
        }

        using var api = app.CreateHttpClient("api");
        using var apiHealth = await api.GetAsync("/health", ct);
        Assert.Equal(HttpStatusCode.OK, apiHealth.StatusCode);

        // The dashboard shows nothing before sign-in: its home page sends the visitor to the sign-in form.
        using var dashboard = app.CreateHttpClient("web-dashboard");
        using var home = await dashboard.GetAsync("/", ct);
        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        Assert.Equal("/account/login", home.RequestMessage?.RequestUri?.AbsolutePath);
        Assert.Contains("Sign in", await home.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
    }
}
