using System.Text.RegularExpressions;
using AppHost.Deployment;

namespace AppHost.Deployment.Tests;

public sealed class MemoryBudgetTests
{
    [Fact]
    public void Budget_OfTheAppHostsServices_AddsUpToAtMost2GB_WithTheSystemReserveLeft()
    {
        VmService[] services =
        [
            Service("api", VmMemoryBudget.ApiMemoryMaxMegabytes),
            Service("notification-worker", VmMemoryBudget.NotificationWorkerMemoryMaxMegabytes),
            Service("web-dashboard", VmMemoryBudget.WebDashboardMemoryMaxMegabytes),
        ];

        var budget = VmMemoryBudget.For(services);

        var sum = VmMemoryBudget.RedisMaxMemoryMegabytes
            + VmMemoryBudget.MongoWiredTigerCacheMegabytes + VmMemoryBudget.MongoOverheadMegabytes
            + services.Sum(s => s.MemoryMaxMegabytes);
        Assert.Equal(sum, budget.AllocatedMegabytes);
        Assert.True(sum + VmMemoryBudget.MinimumSystemReserveMegabytes <= 2048,
            $"limits {sum} MB + system reserve {VmMemoryBudget.MinimumSystemReserveMegabytes} MB exceed 2048 MB");
        Assert.True(budget.Fits);
        // The old plan's split: Redis 512 MB, application (MongoDB + services) at most 1 GB.
        Assert.Equal(512, VmMemoryBudget.RedisMaxMemoryMegabytes);
        Assert.True(sum - VmMemoryBudget.RedisMaxMemoryMegabytes <= 1024);
    }

    [Fact]
    public async Task ReadmeBudgetTable_OfTheGeneratedModel_SumsToItsTotal_AndLeavesTheSystemAtLeastTheReserve()
    {
        var readme = (await AppModel.GenerateAsync()).File("README.md");

        var rows = Regex.Matches(readme, @"^\| (?<name>[a-zA-Z-]+) \| (?<mb>\d+) \|", RegexOptions.Multiline)
            .ToDictionary(m => m.Groups["name"].Value, m => int.Parse(m.Groups["mb"].Value, System.Globalization.CultureInfo.InvariantCulture));
        var total = int.Parse(Regex.Match(readme, @"\| \*\*all limits\*\* \| \*\*(\d+)\*\*").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        string[] components = ["Redis", "MongoDB", "api", "notification-worker", "web-dashboard"];
        Assert.All(components, c => Assert.Contains(c, rows.Keys));
        Assert.Equal(components.Sum(c => rows[c]), total);
        Assert.True(total <= 2048 - VmMemoryBudget.MinimumSystemReserveMegabytes, $"limits add up to {total} MB");
        var reserve = int.Parse(Regex.Match(readme, @"\| system reserve \| (\d+) \|").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(2048 - total, reserve);
        Assert.True(reserve >= VmMemoryBudget.MinimumSystemReserveMegabytes);
    }

    [Fact]
    public void Budget_DoesNotFit_WhenServicesTakeTheSystemsShare()
    {
        var budget = VmMemoryBudget.For([Service("api", 700), Service("notification-worker", 300)]);
        Assert.False(budget.Fits);
    }

    private static VmService Service(string name, int memoryMax) =>
        new(name, name, 8000, memoryMax, IsExternal: false, RequestBodyLimitBytes: null, Environment: []);
}
