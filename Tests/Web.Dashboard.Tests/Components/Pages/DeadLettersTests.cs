using System.Net;
using Bunit;
using Web.Dashboard.Components.Pages;
using Web.Dashboard.Tests.Support;

namespace Web.Dashboard.Tests.Components.Pages;

public sealed class DeadLettersTests : DashboardContext
{
    [Fact]
    public void List_SaysThereAreNone_WhenTheQueueHasNoDeadLetters()
    {
        Api.Answer("GET", "/api/dead-letters", ApiAnswers.Page([], 0));

        var page = Render<DeadLetters>();

        page.WaitForAssertion(() => Assert.Contains("No dead letters", page.Find(".empty").TextContent));
        Assert.True(page.Find("button:contains('Retry all')").HasAttribute("disabled"));
    }

    [Fact]
    public void List_ShowsAnError_WhenTheApiAnswers500()
    {
        Api.AnswerStatus("GET", "/api/dead-letters", HttpStatusCode.InternalServerError);

        var page = Render<DeadLetters>();

        page.WaitForAssertion(() => Assert.Contains("Dead letters could not be loaded", page.Find(".error").TextContent));
        Assert.Empty(page.FindAll(".empty"));
    }

    [Fact]
    public void Search_SendsTheTextAndChannelToTheApi()
    {
        Api.Answer("GET", "/api/dead-letters", ApiAnswers.Page([], 0));
        var page = Render<DeadLetters>();

        page.Find("#dead-letter-search").Change("+1555");
        page.Find("select").Change("sms");
        page.Find("form.toolbar").Submit();

        page.WaitForAssertion(() => Assert.Contains(Api.Requests, r => r.RequestUri!.Query.Contains("search=%2B1555", StringComparison.Ordinal) && r.RequestUri.Query.Contains("type=sms", StringComparison.Ordinal)));
        Assert.Contains("No dead letter matches", page.Find(".empty").TextContent);
    }

    [Fact]
    public void Open_ShowsTheErrorAndThePayload()
    {
        Api.Answer("GET", "/api/dead-letters", ApiAnswers.Page([ApiAnswers.DeadLetter("t-1", error: "BulkSMS 400: invalid number")], 1))
            .Answer("GET", "/api/dead-letters/t-1", ApiAnswers.DeadLetter("t-1", error: "BulkSMS 400: invalid number"));
        var page = Render<DeadLetters>();

        page.WaitForElement("tr[data-dead-letter='t-1'] button:contains('Open')").Click();

        page.WaitForAssertion(() => Assert.Contains("BulkSMS 400: invalid number", page.Find(".detail .error-text").TextContent));
        var payload = page.Find(".detail pre:not(.error-text)").TextContent;
        Assert.Contains("\"message\": \"Welcome\"", payload);
        Assert.Contains("\"retry_count\": 4", payload);
        Assert.Contains("\"phone\": \"+15550000001\"", payload);
    }

    [Fact]
    public void Delete_AsksForConfirmation_AndDeletesNothingUntilConfirmed()
    {
        Api.Answer("GET", "/api/dead-letters", ApiAnswers.Page([ApiAnswers.DeadLetter("t-1")], 1))
            .AnswerStatus("DELETE", "/api/dead-letters/t-1", HttpStatusCode.NoContent);
        var page = Render<DeadLetters>();

        page.WaitForElement("tr[data-dead-letter='t-1'] button:contains('Delete')").Click();

        Assert.Contains("Delete dead letter t-1 for good?", page.Find(".confirm").TextContent);
        Assert.Equal(0, Api.CountOf("DELETE", "/api/dead-letters/t-1"));

        page.Find(".confirm button:contains('Cancel')").Click();

        Assert.Empty(page.FindAll(".confirm"));
        Assert.Equal(0, Api.CountOf("DELETE", "/api/dead-letters/t-1"));
    }

    [Fact]
    public void Delete_RemovesTheDeadLetter_OnceConfirmed()
    {
        var deleted = false;
        Api.AnswerWith("GET", "/api/dead-letters", _ => Json(deleted ? ApiAnswers.Page([], 0) : ApiAnswers.Page([ApiAnswers.DeadLetter("t-1")], 1)))
            .AnswerWith("DELETE", "/api/dead-letters/t-1", _ =>
            {
                deleted = true;
                return new HttpResponseMessage(HttpStatusCode.NoContent);
            });
        var page = Render<DeadLetters>();

        page.WaitForElement("tr[data-dead-letter='t-1'] button:contains('Delete')").Click();
        page.Find(".confirm button:contains('Yes, delete')").Click();

        page.WaitForAssertion(() => Assert.Empty(page.FindAll("tr[data-dead-letter='t-1']")));
        Assert.Equal(1, Api.CountOf("DELETE", "/api/dead-letters/t-1"));
        Assert.Contains("was deleted", page.Find(".notice").TextContent);
    }

    [Fact]
    public void Retry_PutsTheDeadLetterBack_AndItLeavesTheList()
    {
        var retried = false;
        Api.AnswerWith("GET", "/api/dead-letters", _ => Json(retried ? ApiAnswers.Page([], 0) : ApiAnswers.Page([ApiAnswers.DeadLetter("t-1")], 1)))
            .AnswerWith("POST", "/api/dead-letters/t-1/retry", _ =>
            {
                retried = true;
                return new HttpResponseMessage(HttpStatusCode.Accepted);
            });
        var page = Render<DeadLetters>();

        page.WaitForElement("tr[data-dead-letter='t-1'] button:contains('Retry')").Click();

        page.WaitForAssertion(() => Assert.Empty(page.FindAll("tr[data-dead-letter='t-1']")));
        Assert.Contains("back in the queue", page.Find(".notice").TextContent);
    }

    [Fact]
    public void RetryAll_AsksFirst_ThenRetriesEveryDeadLetter()
    {
        Api.Answer("GET", "/api/dead-letters", ApiAnswers.Page([ApiAnswers.DeadLetter("t-1"), ApiAnswers.DeadLetter("t-2")], 2))
            .Answer("POST", "/api/dead-letters/retry-all", new { retried = 2 });
        var page = Render<DeadLetters>();

        page.WaitForElement("button:contains('Retry all')").Click();
        Assert.Equal(0, Api.CountOf("POST", "/api/dead-letters/retry-all"));
        page.Find(".confirm button:contains('Yes, retry all')").Click();

        page.WaitForAssertion(() => Assert.Equal(1, Api.CountOf("POST", "/api/dead-letters/retry-all")));
    }

    [Fact]
    public void DeleteAll_ConfirmsTheCountTheOperatorSaw()
    {
        string? sent = null;
        Api.Answer("GET", "/api/dead-letters", ApiAnswers.Page([ApiAnswers.DeadLetter("t-1"), ApiAnswers.DeadLetter("t-2")], 2))
            .AnswerWith("POST", "/api/dead-letters/delete-all", request =>
            {
                sent = request.Content!.ReadAsStringAsync().GetAwaiter().GetResult();
                return Json(new { count = 2 });
            });
        var page = Render<DeadLetters>();

        page.WaitForElement("button:contains('Delete all')").Click();
        Assert.Contains("Delete all 2 dead letters", page.Find(".confirm").TextContent);
        page.Find(".confirm button:contains('Yes, delete all')").Click();

        page.WaitForAssertion(() => Assert.Equal("""{"confirm":2}""", sent));
    }

    [Fact]
    public void BulkActions_AreUnavailable_WhileTheListIsFiltered()
    {
        Api.Answer("GET", "/api/dead-letters", ApiAnswers.Page([ApiAnswers.DeadLetter("t-1")], 1));
        var page = Render<DeadLetters>();
        page.WaitForElement("tr[data-dead-letter='t-1']");

        page.Find("#dead-letter-search").Change("t-1");
        page.Find("form.toolbar").Submit();

        page.WaitForAssertion(() => Assert.True(page.Find("button:contains('Delete all')").HasAttribute("disabled")));
        Assert.True(page.Find("button:contains('Retry all')").HasAttribute("disabled"));
    }

    [Fact]
    public void Retry_ShowsTheApisError_WhenItFails()
    {
        Api.Answer("GET", "/api/dead-letters", ApiAnswers.Page([ApiAnswers.DeadLetter("t-1")], 1))
            .Answer("POST", "/api/dead-letters/t-1/retry", new { title = "Not a dead letter", detail = "t-1 has no readable task." }, HttpStatusCode.NotFound);
        var page = Render<DeadLetters>();

        page.WaitForElement("tr[data-dead-letter='t-1'] button:contains('Retry')").Click();

        page.WaitForAssertion(() => Assert.Contains("t-1 has no readable task.", page.Find("p.error").TextContent));
        Assert.Contains("404", page.Find("p.error").TextContent);
    }

    private static HttpResponseMessage Json(object body) =>
        new(HttpStatusCode.OK) { Content = System.Net.Http.Json.JsonContent.Create(body, options: System.Text.Json.JsonSerializerOptions.Web) };
}
