using System.Net;
using Bunit;
using Web.Dashboard.Components.Pages;
using Web.Dashboard.Tests.Support;

namespace Web.Dashboard.Tests.Components.Pages;

public sealed class BatchesTests : DashboardContext
{
    [Fact]
    public void Batches_SaysThereAreNone_WhenNoneExist()
    {
        Api.Answer("GET", "/api/batches", Array.Empty<object>());

        var page = Render<Batches>();

        page.WaitForAssertion(() => Assert.Contains("No batches yet", page.Find(".empty").TextContent));
    }

    [Fact]
    public void Batches_ShowSentFailedAndPending_ForEachBatch()
    {
        Api.Answer("GET", "/api/batches", new[]
            {
                new { id = "b-1", name = "Autumn intake", createdAt = DateTimeOffset.UtcNow, studentCount = 10 },
                new { id = "b-2", name = "Resits", createdAt = DateTimeOffset.UtcNow, studentCount = 4 },
            })
            .Answer("GET", "/api/batches/b-1", new
            {
                id = "b-1", name = "Autumn intake", progress = new { sent = 4, delivered = 3, failed = 1, pending = 2, total = 10, smsParts = 14, creditCost = 11.2 },
            })
            .Answer("GET", "/api/batches/b-2", new { id = "b-2", name = "Resits", progress = new { sent = 0, failed = 0, pending = 4, total = 4 } });

        var page = Render<Batches>();

        page.WaitForAssertion(() => Assert.NotEmpty(page.FindAll("tr[data-batch='b-1'] .progress")));
        var cells = page.FindAll("tr[data-batch='b-1'] td").Select(c => c.TextContent.Trim()).ToList();
        Assert.Equal(["Autumn intake", "10", "3", "4", "1", "2", "14", "11.2"], [cells[0], cells[2], cells[4], cells[5], cells[6], cells[7], cells[8], cells[9]]);
        Assert.Equal("3 delivered, 4 sent, 1 failed, 2 pending of 10", page.Find("tr[data-batch='b-1'] .progress").GetAttribute("title"));
        Assert.Equal("width: 30%", page.Find("tr[data-batch='b-1'] .progress-delivered").GetAttribute("style"));
        Assert.Equal("width: 40%", page.Find("tr[data-batch='b-1'] .progress-sent").GetAttribute("style"));
        Assert.Contains("Resits", page.Find("tr[data-batch='b-2']").TextContent);
    }

    [Fact]
    public void Batches_ReadTheApisPagedListWithProgressIncluded()
    {
        Api.Answer("GET", "/api/batches", new
        {
            items = new[]
            {
                new { id = "b-1", name = "Autumn intake", createdAt = DateTimeOffset.UtcNow, studentIds = new[] { "s-1", "s-2", "s-3" }, progress = new { sent = 1, failed = 1, pending = 1, total = 3 } },
            },
            total = 1,
            page = 1,
            pageSize = 100,
        });

        var page = Render<Batches>();

        page.WaitForAssertion(() => Assert.Equal("0 delivered, 1 sent, 1 failed, 1 pending of 3", page.Find("tr[data-batch='b-1'] .progress").GetAttribute("title")));
        Assert.Equal("3", page.FindAll("tr[data-batch='b-1'] td")[2].TextContent);
        Assert.Equal(0, Api.CountOf("GET", "/api/batches/b-1"));
    }

    [Fact]
    public void SmsUsage_IsShownPerDay_NewestFirst_WithTheTotals()
    {
        Api.Answer("GET", "/api/batches", Array.Empty<object>())
            .Answer("GET", "/api/monitoring/sms-usage", new
            {
                from = "2026-11-04", to = "2026-12-03", messages = 5, parts = 9, creditCost = 7.2,
                days = new[]
                {
                    new { day = "2026-12-01", messages = 2, parts = 2, creditCost = 1.6, ucs2Messages = 0, ucs2Parts = 0 },
                    new { day = "2026-12-02", messages = 3, parts = 7, creditCost = 5.6, ucs2Messages = 2, ucs2Parts = 6 },
                },
            });

        var page = Render<Batches>();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("table.sms-usage tbody tr").Count));
        Assert.Equal(["2026-12-02", "2026-12-01"], page.FindAll("table.sms-usage tbody tr").Select(r => r.GetAttribute("data-day")));
        Assert.Equal(["2026-12-02", "3", "7", "2 messages, 6 parts", "5.6"], page.FindAll("tr[data-day='2026-12-02'] td").Select(c => c.TextContent.Trim()));
        Assert.Contains("9", page.Find("table.sms-usage tfoot").TextContent);
    }

    [Fact]
    public void Batches_ShowAnError_WhenTheApiIsUnreachable()
    {
        Api.RefuseConnection("GET", "/api/batches");

        var page = Render<Batches>();

        page.WaitForAssertion(() => Assert.Contains("Batches could not be loaded", page.Find(".error").TextContent));
    }

    [Fact]
    public void Batch_ShowsItsOwnError_WhenItsProgressFails()
    {
        Api.Answer("GET", "/api/batches", new[] { new { id = "b-1", name = "Autumn intake", createdAt = DateTimeOffset.UtcNow, studentCount = 10 } })
            .AnswerStatus("GET", "/api/batches/b-1", HttpStatusCode.InternalServerError);

        var page = Render<Batches>();

        page.WaitForAssertion(() => Assert.Contains("Progress could not be loaded", page.Find("tr[data-batch='b-1']").TextContent));
    }
}
