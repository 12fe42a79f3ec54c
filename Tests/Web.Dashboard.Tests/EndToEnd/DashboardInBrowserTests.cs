using Microsoft.Playwright;
using Notifications.Queue;

namespace Web.Dashboard.Tests.EndToEnd;

/// <summary>
/// The dashboard in Debian's headless Chromium against the running system. Screenshots go to
/// <c>screenshots/</c> beside the test assembly and are attached to the test result.
/// </summary>
public sealed class DashboardInBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(6);
    private static readonly string s_screenshots = Path.Combine(AppContext.BaseDirectory, "screenshots");

    [Fact]
    public async Task Staff_SignIn_SeeQueueDepthRiseAndTheAlert_AndRetryADeadLetterOffTheList()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(s_timeout);
        var ct = cts.Token;
        Assert.True(File.Exists(Chromium), $"The end-to-end test drives Debian's Chromium at {Chromium}; install the chromium package.");

        await using var system = await RunningSystem.StartAsync(ct);
        if (!await system.ApiServesMonitoringAsync(ct))
        {
            Assert.Skip("The Api answers 404 on /api/monitoring/queue: its monitoring and dead-letter endpoints are not there yet.");
        }

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            Headless = true,
            ExecutablePath = Chromium,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1000 } });
        page.SetDefaultTimeout(60_000);
        Assertions.SetDefaultExpectTimeout(60_000);

        // Without a session, the overview sends the browser to the sign-in page and shows no data.
        await page.GotoAsync(new Uri(system.DashboardAddress, "/").ToString());
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/account/login"));
        Assert.Equal(0, await page.Locator("[data-total='pending']").CountAsync());
        await page.FillAsync("#user-name", RunningSystem.StaffUser);
        await page.FillAsync("#password", RunningSystem.StaffPassword);
        await page.ClickAsync("button[type=submit]");

        var pendingTotal = page.Locator("[data-total='pending']");
        await Assertions.Expect(pendingTotal).ToBeVisibleAsync();
        var before = ReadCount(await pendingTotal.TextContentAsync());
        await ScreenshotAsync(page, "01-overview-signed-in");

        const int queued = 5;
        await system.Queue.EnqueueManyAsync(
            [.. Enumerable.Range(0, queued).Select(i => NotificationRequest.Sms($"+1555010{i:000}", $"E2E notice {i}"))], ct);

        // No reload: the page's own refresh must bring the new depth.
        await page.WaitForFunctionAsync(
            "expected => Number((document.querySelector(\"[data-total='pending']\")?.textContent ?? '').replace(/,/g, '')) >= expected",
            before + queued);
        await Assertions.Expect(page.Locator(".alert-banner")).ToBeVisibleAsync(new() { Timeout = 120_000 });
        await Assertions.Expect(page.Locator("[data-metric='pending']")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("level-(amber|red)"));
        await ScreenshotAsync(page, "02-overview-depth-rose-and-alert");

        var deadLetterId = await system.AddDeadLetterAsync("+15550109999", "BulkSMS 400: the number is not a mobile number");
        await page.ClickAsync("nav >> text=Dead letters");
        var row = page.Locator($"tr[data-dead-letter='{deadLetterId}']");
        await Assertions.Expect(row).ToBeVisibleAsync();
        await row.Locator("button", new() { HasText = "Open" }).ClickAsync();
        await Assertions.Expect(page.Locator(".detail .error-text")).ToContainTextAsync("not a mobile number");
        await ScreenshotAsync(page, "03-dead-letter-open");

        await row.Locator("button", new() { HasText = "Retry" }).ClickAsync();
        await Assertions.Expect(row).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator(".notice")).ToContainTextAsync("back in the queue");
        await ScreenshotAsync(page, "04-dead-letter-retried");
    }

    private static long ReadCount(string? text) => long.Parse((text ?? "0").Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture);

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(s_screenshots);
        var path = Path.Combine(s_screenshots, name + ".png");
        var png = await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.Current.AddAttachment(name + ".png", png, "image/png");
        TestContext.Current.SendDiagnosticMessage("Screenshot: {0}", path);
    }
}
