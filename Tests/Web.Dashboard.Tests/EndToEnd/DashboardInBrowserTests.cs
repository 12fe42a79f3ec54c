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
    public async Task Staff_SignIn_SeeQueueDepthRise_AndRetryADeadLetterOffTheList()
    {
        await using var run = await BrowserRun.StartAsync();
        var (system, page, ct) = (run.System, run.Page, run.CancellationToken);

        var pendingTotal = page.Locator("[data-total='pending']");
        var before = ReadCount(await pendingTotal.TextContentAsync());
        await ScreenshotAsync(page, "01-overview-signed-in");

        const int queued = 5;
        await system.Queue.EnqueueManyAsync(
            [.. Enumerable.Range(0, queued).Select(i => NotificationRequest.Sms($"+1555010{i:000}", $"E2E notice {i}"))], ct);

        // No reload: the page's own refresh must bring the new depth.
        await page.WaitForFunctionAsync(
            "expected => Number((document.querySelector(\"[data-total='pending']\")?.textContent ?? '').replace(/,/g, '')) >= expected",
            before + queued);
        await ScreenshotAsync(page, "02-overview-depth-rose");

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

        // The dashboard has no Redis: its memory reaches the application-memory gauge through the Api.
        Assert.True(await system.DashboardHasReportedMemoryAsync(ct), "the dashboard's memory report reached the Api");
    }

    [Fact]
    public async Task Overview_ShowsTheAlert_WhenPendingTasksCrossALowThreshold()
    {
        await using var run = await BrowserRun.StartAsync();
        var (system, page, ct) = (run.System, run.Page, run.CancellationToken);
        using (var api = system.CreateStaffApiClient())
        using (var alerts = await api.GetAsync("/api/monitoring/alerts", ct))
        {
            if ((int)alerts.StatusCode >= 500)
            {
                Assert.Skip($"The Api answers {(int)alerts.StatusCode} on /api/monitoring/alerts, so no alert can show; the dashboard shows that error instead.");
            }
        }

        await system.Queue.EnqueueManyAsync([NotificationRequest.Sms("+15550100001", "E2E alert 1"), NotificationRequest.Sms("+15550100002", "E2E alert 2")], ct);

        await Assertions.Expect(page.Locator(".alert-banner")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-metric='pending']")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("level-red"));
        await ScreenshotAsync(page, "05-overview-alert");
    }

    /// <summary>The running system and a signed-in Chromium page on its overview, for one test.</summary>
    private sealed class BrowserRun : IAsyncDisposable
    {
        private readonly CancellationTokenSource _timeout;
        private readonly IPlaywright _playwright;
        private readonly IBrowser _browser;

        private BrowserRun(CancellationTokenSource timeout, RunningSystem system, IPlaywright playwright, IBrowser browser, IPage page)
        {
            _timeout = timeout;
            System = system;
            _playwright = playwright;
            _browser = browser;
            Page = page;
        }

        public RunningSystem System { get; }

        public IPage Page { get; }

        public CancellationToken CancellationToken => _timeout.Token;

        public static async Task<BrowserRun> StartAsync()
        {
            Assert.True(File.Exists(Chromium), $"The end-to-end test drives Debian's Chromium at {Chromium}; install the chromium package.");
            var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(s_timeout);
            var system = await RunningSystem.StartAsync(timeout.Token);
            var playwright = await Playwright.CreateAsync();
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                Headless = true,
                ExecutablePath = Chromium,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
            var run = new BrowserRun(timeout, system, playwright, browser,
                await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1000 } }));
            try
            {
                await SignInAsync(run.Page, system);
                return run;
            }
            catch
            {
                await run.DisposeAsync();
                throw;
            }
        }

        private static async Task SignInAsync(IPage page, RunningSystem system)
        {
            page.SetDefaultTimeout(60_000);
            Assertions.SetDefaultExpectTimeout(60_000);

            // Without a session, the overview sends the browser to the sign-in page and shows no data.
            await page.GotoAsync(new Uri(system.DashboardAddress, "/").ToString());
            await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/account/login"));
            Assert.Equal(0, await page.Locator("[data-total='pending']").CountAsync());
            await page.FillAsync("#user-name", RunningSystem.StaffUser);
            await page.FillAsync("#password", RunningSystem.StaffPassword);
            await page.ClickAsync("button[type=submit]");
            await Assertions.Expect(page.Locator("[data-total='pending']")).ToBeVisibleAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await _browser.DisposeAsync();
            _playwright.Dispose();
            await System.DisposeAsync();
            _timeout.Dispose();
        }
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
