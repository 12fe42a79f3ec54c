using Bunit;
using Web.Dashboard.Components.Overview;
using Web.Dashboard.Services;

namespace Web.Dashboard.Tests.Components.Overview;

public sealed class AlertBannerTests : BunitContext
{
    [Fact]
    public void Banner_IsAbsent_WhenNoThresholdIsCrossed()
    {
        var banner = Render<AlertBanner>(p => p.Add(x => x.Alerts, []));

        Assert.Empty(banner.FindAll(".alert-banner"));
    }

    [Fact]
    public void Banner_ListsEveryCrossedThreshold()
    {
        var banner = Render<AlertBanner>(p => p.Add(x => x.Alerts,
        [
            new ThresholdAlert("pending", "red", "1,204 tasks pending, above 1,000", DateTimeOffset.UtcNow),
            new ThresholdAlert("redis-memory", "amber", "Redis uses 390 MB", DateTimeOffset.UtcNow),
        ]));

        var alert = banner.Find(".alert-banner");
        Assert.Equal("alert", alert.GetAttribute("role"));
        Assert.Contains("2 alerts", alert.TextContent);
        Assert.Contains("Pending tasks", alert.TextContent);
        Assert.Contains("1,204 tasks pending", alert.TextContent);
        Assert.Single(banner.FindAll("li.level-red"));
    }

    [Fact]
    public void Banner_NamesAProviderWhoseSendsAreHeldBack()
    {
        var banner = Render<AlertBanner>(p => p.Add(x => x.Alerts,
        [
            new ThresholdAlert("provider_circuit:bulksms", "red", "bulksms is not taking our sends: BulkSMS 401 authentication-failed.", DateTimeOffset.UtcNow),
        ]));

        var alert = banner.Find(".alert-banner");
        Assert.Contains("Provider bulksms held back", alert.TextContent);
        Assert.Contains("authentication-failed", alert.TextContent);
        Assert.Single(banner.FindAll("li.level-red"));
    }
}
