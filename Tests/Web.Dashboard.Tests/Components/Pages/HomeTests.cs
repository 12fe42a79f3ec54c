using System.Net;
using Bunit;
using Web.Dashboard.Components.Pages;
using Web.Dashboard.Tests.Support;

namespace Web.Dashboard.Tests.Components.Pages;

public sealed class HomeTests : DashboardContext
{
    private const double Megabyte = 1024 * 1024;

    [Fact]
    public void Overview_ShowsQueueDepthCacheResourcesAndHealth_FromTheApi()
    {
        AnswerEverything();

        var page = Render<Home>();

        page.WaitForAssertion(() => Assert.Equal("17", page.Find("[data-total='pending']").TextContent));
        Assert.Equal("5", page.Find("tr[data-priority='high'] td:nth-child(2)").TextContent);
        Assert.Equal("2 min 5 s", page.Find("[data-fact='oldest-pending']").TextContent);
        Assert.Equal("4", page.Find("[data-fact='dead']").TextContent);
        Assert.Contains("95.0%", page.Find("[data-fact='cache-hit-rate']").TextContent);
        Assert.Equal(60, page.FindAll("svg.throughput rect").Count);
        Assert.Contains("level-amber", page.Find("[data-metric='app-memory']").ClassList);
        Assert.Contains("level-green", page.Find("[data-dependency='redis']").ClassList);
        Assert.Contains("level-green", page.Find("[data-dependency='document-store']").ClassList);
        Assert.Contains("level-red", page.Find("[data-dependency='worker']").ClassList);
        Assert.Contains("level-amber", page.Find("[data-dependency='api']").ClassList);
    }

    [Fact]
    public void Overview_ShowsTheAlertBanner_WhenTheApiReportsACrossedThreshold()
    {
        AnswerEverything();
        Api.Answer("GET", "/api/monitoring/alerts", new[] { new { metric = "pending", level = "red", message = "17 tasks pending, above 1", since = DateTimeOffset.UtcNow } });

        var page = Render<Home>();

        page.WaitForAssertion(() => Assert.Contains("17 tasks pending, above 1", page.Find(".alert-banner").TextContent));
    }

    [Fact]
    public void Overview_ShowsAnErrorInsteadOfData_WhenTheApiAnswers500()
    {
        AnswerEverything();
        Api.AnswerStatus("GET", "/api/monitoring/queue", HttpStatusCode.InternalServerError);

        var page = Render<Home>();

        page.WaitForAssertion(() => Assert.Contains("Queue depth could not be loaded", page.Markup));
        Assert.Contains("500", page.Find(".error").TextContent);
        Assert.Empty(page.FindAll("[data-total='pending']"));
        // The rest of the page still shows what did load.
        Assert.Contains("95.0%", page.Find("[data-fact='cache-hit-rate']").TextContent);
    }

    [Fact]
    public void Overview_ShowsEveryPartAsUnavailable_WhenTheApiRefusesTheConnection()
    {
        foreach (var path in new[] { "/api/monitoring/queue", "/api/monitoring/cache", "/api/monitoring/system", "/api/monitoring/alerts", "/api/monitoring/health" })
        {
            Api.RefuseConnection("GET", path);
        }

        var page = Render<Home>();

        page.WaitForAssertion(() => Assert.Equal(4, page.FindAll("p.error").Count));
        Assert.All(page.FindAll("p.error"), e => Assert.Contains("could not be reached", e.TextContent));
        Assert.Contains("not answering", page.Find("[data-dependency='api']").TextContent);
        Assert.Contains("level-red", page.Find("[data-dependency='api']").ClassList);
    }

    [Fact]
    public void Overview_RefreshesOnItsOwn_WithoutAReload()
    {
        Dashboard.RefreshInterval = TimeSpan.FromSeconds(1);
        AnswerEverything();
        var calls = 0;
        Api.AnswerWith("GET", "/api/monitoring/queue", _ =>
        {
            var pending = Interlocked.Increment(ref calls) == 1 ? 1 : 42;
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = System.Net.Http.Json.JsonContent.Create(ApiAnswers.QueueStats(normalPending: pending)) };
        });

        var page = Render<Home>();

        page.WaitForAssertion(() => Assert.Equal("42", page.Find("[data-total='pending']").TextContent), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Overview_CallsTheApiAsTheSignedInStaffMember()
    {
        AnswerEverything();

        var page = Render<Home>();

        page.WaitForAssertion(() => Assert.NotEmpty(page.FindAll("[data-total='pending']")));
        Assert.All(Api.Requests, request => Assert.Equal("Bearer", request.Headers.Authorization?.Scheme));
    }

    private void AnswerEverything()
    {
        Api.Answer("GET", "/api/monitoring/queue", ApiAnswers.QueueStats(highPending: 5, normalPending: 10, bulkPending: 2, dead: 4, oldestPendingAge: "00:02:05.5000000"))
            .Answer("GET", "/api/monitoring/cache", ApiAnswers.Cache(hits: 95, misses: 5))
            .Answer("GET", "/api/monitoring/system", ApiAnswers.System(
                ApiAnswers.Metric("redis-memory", 100 * Megabyte, 400 * Megabyte, 512 * Megabyte, "bytes", "green"),
                ApiAnswers.Metric("app-memory", 700 * Megabyte, 800 * Megabyte, 1024 * Megabyte, "bytes", "amber"),
                ApiAnswers.Metric("disk", 13.0 * 1024 * Megabyte, 12.0 * 1024 * Megabyte, 16.0 * 1024 * Megabyte, "bytes", "red"),
                ApiAnswers.Metric("pending", 17, 1000, null, "tasks", "green")))
            .Answer("GET", "/api/monitoring/alerts", Array.Empty<object>())
            .Answer("GET", "/api/monitoring/health", ApiAnswers.Health("degraded", ("redis", "healthy"), ("document-store", "healthy"), ("worker", "unhealthy")));
    }
}
