using System.Net;
using Bunit;
using Web.Dashboard.Components.Pages;
using Web.Dashboard.Tests.Support;

namespace Web.Dashboard.Tests.Components.Pages;

public sealed class DeliveriesTests : DashboardContext
{
    [Fact]
    public void Outbox_SaysItIsEmpty_WhenNothingWasSent()
    {
        Api.Answer("GET", "/api/notifications", ApiAnswers.Page([], 0))
            .Answer("GET", "/api/outbox", ApiAnswers.Page([], 0));

        var page = Render<Deliveries>();

        page.WaitForAssertion(() => Assert.Contains("The outbox is empty", page.Markup));
        Assert.Contains("No deliveries recorded yet", page.Markup);
    }

    [Fact]
    public void Deliveries_ListRecentSendsWithTheirStatus()
    {
        Api.Answer("GET", "/api/notifications", ApiAnswers.Page(
            [
                new
                {
                    taskId = "t-1", status = "sent", channel = "email", recipient = "asha@example.org", provider = "outbox", providerMessageId = "m-1",
                    lastError = (string?)null, attempts = 1, timeline = new[] { new { status = "queued", at = DateTimeOffset.UtcNow.AddSeconds(-3) }, new { status = "sent", at = DateTimeOffset.UtcNow } },
                },
                new
                {
                    taskId = "t-2", status = "dead", channel = "sms", recipient = "+15550000001", provider = "bulksms", providerMessageId = (string?)null,
                    lastError = (string?)"invalid number", attempts = 4, timeline = Array.Empty<object>(),
                },
            ], 2))
            .Answer("GET", "/api/outbox", ApiAnswers.Page([], 0));

        var page = Render<Deliveries>();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("tr[data-task]").Count));
        Assert.Contains("level-green", page.Find("tr[data-task='t-1'] td:nth-child(2)").ClassList);
        Assert.Contains("level-red", page.Find("tr[data-task='t-2'] td:nth-child(2)").ClassList);
        Assert.Contains("invalid number", page.Find("tr[data-task='t-2']").TextContent);
    }

    [Fact]
    public void OutboxEmail_IsShownInASandboxedFrame_AsTheStudentSeesIt()
    {
        const string html = "<h1>Welcome, Asha</h1><script>alert('x')</script>";
        Api.Answer("GET", "/api/notifications", ApiAnswers.Page([], 0))
            .Answer("GET", "/api/outbox", ApiAnswers.Page(
            [
                new { id = "o-1", createdAt = DateTimeOffset.UtcNow, taskId = "t-1", channel = "Email", recipient = "asha@example.org", subject = "Welcome", textBody = "Welcome, Asha", htmlBody = html },
            ], 1));

        var page = Render<Deliveries>();

        var frame = page.WaitForElement("iframe.email-html");
        Assert.Equal("", frame.GetAttribute("sandbox"));
        Assert.Equal(html, frame.GetAttribute("srcdoc"));
        // The email's markup only lives inside the frame's document, never in the dashboard's own.
        Assert.Empty(page.FindAll(".outbox-message > h1, script"));
    }

    [Fact]
    public void OutboxSms_IsShownAsText()
    {
        Api.Answer("GET", "/api/notifications", ApiAnswers.Page([], 0))
            .Answer("GET", "/api/outbox", ApiAnswers.Page(
            [
                new { id = "o-2", createdAt = DateTimeOffset.UtcNow, taskId = "t-2", channel = "Sms", recipient = "+15550000001", subject = (string?)null, textBody = "Your code is 123456", htmlBody = (string?)null },
            ], 1));

        var page = Render<Deliveries>();

        page.WaitForAssertion(() => Assert.Equal("Your code is 123456", page.Find("pre.message-text").TextContent));
        Assert.Empty(page.FindAll("iframe"));
    }

    [Fact]
    public void Deliveries_ShowErrors_WhenTheApiFails()
    {
        Api.AnswerStatus("GET", "/api/notifications", HttpStatusCode.BadGateway)
            .RefuseConnection("GET", "/api/outbox");

        var page = Render<Deliveries>();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("p.error").Count));
        Assert.Contains("502", page.FindAll("p.error")[0].TextContent);
        Assert.Contains("could not be reached", page.FindAll("p.error")[1].TextContent);
    }
}
