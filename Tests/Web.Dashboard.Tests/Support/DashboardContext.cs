using Bunit;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Web.Dashboard.Security;
using Web.Dashboard.Services;

namespace Web.Dashboard.Tests.Support;

/// <summary>
/// A bUnit context with the dashboard's real Api client and token handler over a <see cref="FakeApi"/>,
/// signed in as staff user "admin".
/// </summary>
public abstract class DashboardContext : BunitContext
{
    public const string SigningKey = "test-signing-key-of-at-least-thirty-two-bytes";

    protected DashboardContext()
    {
        // bUnit's waits give up after 1 s by default: a first render on a loaded machine can take longer.
        DefaultWaitTimeout = TimeSpan.FromSeconds(30);
        AddAuthorization().SetAuthorized("admin");
        Services.AddSingleton(TimeProvider.System);
        Services.AddSingleton(Options.Create(Dashboard));
        Services.AddSingleton(Options.Create(new ApiTokenOptions { SigningKey = SigningKey }));
        Services.AddSingleton<ApiTokenIssuer>();
        Services.AddTransient(provider => new NotificationsApiClient(
            new HttpClient(new StaffTokenHandler(provider.GetRequiredService<ApiTokenIssuer>()) { InnerHandler = Api })
            {
                BaseAddress = new Uri("http://api"),
            },
            provider.GetRequiredService<AuthenticationStateProvider>(),
            NullLogger<NotificationsApiClient>.Instance));
    }

    protected FakeApi Api { get; } = new();

    protected DashboardOptions Dashboard { get; } = new();
}
