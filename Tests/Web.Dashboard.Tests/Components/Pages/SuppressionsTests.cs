using System.Net;
using Bunit;
using Web.Dashboard.Components.Pages;
using Web.Dashboard.Tests.Support;

namespace Web.Dashboard.Tests.Components.Pages;

public sealed class SuppressionsTests : DashboardContext
{
    private static object Blocked => new
    {
        channel = "sms", address = "+919876543210", reason = "BulkSMS reported FAILED.BLOCKED", at = DateTimeOffset.UtcNow.AddHours(-1), source = "bulksms", taskId = "t-1",
    };

    [Fact]
    public void Suppressions_SaysNoOneIsSuppressed_WhenTheListIsEmpty()
    {
        Api.Answer("GET", "/api/suppressions", ApiAnswers.Page([], 0))
            .Answer("GET", "/api/suppressions/audit", ApiAnswers.Page([], 0));

        var page = Render<Suppressions>();

        page.WaitForAssertion(() => Assert.Contains("No one is suppressed", page.Find(".empty").TextContent));
    }

    [Fact]
    public void Suppressions_ListEachRecipientWithItsReason_AndTheAuditTrail()
    {
        Api.Answer("GET", "/api/suppressions", ApiAnswers.Page([Blocked], 1))
            .Answer("GET", "/api/suppressions/audit", ApiAnswers.Page(
            [
                new { action = "added", channel = "sms", address = "+919876543210", reason = "BulkSMS reported FAILED.BLOCKED", actor = "bulksms", at = DateTimeOffset.UtcNow.AddHours(-1) },
            ], 1));

        var page = Render<Suppressions>();

        var row = page.WaitForElement("tr[data-suppression='+919876543210']");
        Assert.Contains("FAILED.BLOCKED", row.TextContent);
        Assert.Contains("bulksms", page.Find("tr[data-audit-action='added']").TextContent);
    }

    [Fact]
    public void Search_AsksTheApiForTheTerm()
    {
        Api.Answer("GET", "/api/suppressions", ApiAnswers.Page([], 0))
            .Answer("GET", "/api/suppressions/audit", ApiAnswers.Page([], 0));
        var page = Render<Suppressions>();
        page.WaitForElement(".empty");

        page.Find("#suppression-search").Change("98765");
        page.Find("form.toolbar").Submit();

        page.WaitForAssertion(() => Assert.Contains(Api.Requests, r => r.RequestUri!.AbsolutePath == "/api/suppressions" && r.RequestUri.Query.Contains("search=98765", StringComparison.Ordinal)));
        Assert.Contains("No suppression matches", page.Find(".empty").TextContent);
    }

    [Fact]
    public void Lift_AsksForConfirmation_SendsTheNote_AndSaysTheRecipientMayBeSentToAgain()
    {
        string? sent = null;
        Api.Answer("GET", "/api/suppressions", ApiAnswers.Page([Blocked], 1))
            .Answer("GET", "/api/suppressions/audit", ApiAnswers.Page([], 0))
            .AnswerWith("POST", "/api/suppressions/sms/%2B919876543210/lift", request =>
            {
                sent = request.Content!.ReadAsStringAsync().GetAwaiter().GetResult();
                return new HttpResponseMessage(HttpStatusCode.OK);
            });
        var page = Render<Suppressions>();

        page.WaitForElement("tr[data-suppression='+919876543210'] button").Click();
        Assert.Equal(0, Api.CountOf("POST", "/api/suppressions/sms/%2B919876543210/lift"));
        page.Find("#lift-note").Change("the carrier unblocked it");
        page.Find("[role=alertdialog] button:contains('Yes, lift it')").Click();

        page.WaitForAssertion(() => Assert.Contains("may be sent to again", page.Find("[role=status]").TextContent));
        Assert.Contains("the carrier unblocked it", sent);
    }

    [Fact]
    public void ALiftTheApiRefuses_ShowsItsReason()
    {
        Api.Answer("GET", "/api/suppressions", ApiAnswers.Page([Blocked], 1))
            .Answer("GET", "/api/suppressions/audit", ApiAnswers.Page([], 0))
            .Answer("POST", "/api/suppressions/sms/%2B919876543210/lift",
                new { title = "Not found", detail = "No suppression '+919876543210'.", status = 404 }, HttpStatusCode.NotFound);
        var page = Render<Suppressions>();

        page.WaitForElement("tr[data-suppression='+919876543210'] button").Click();
        page.Find("[role=alertdialog] button:contains('Yes, lift it')").Click();

        page.WaitForAssertion(() => Assert.Contains("404", page.Find("p.error").TextContent));
    }
}
