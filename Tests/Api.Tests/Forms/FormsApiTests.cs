using System.Net;
using System.Text.Json;
using Api.Forms;
using Api.Sending;
using Api.Students;
using Api.Tests.Infrastructure;
using Notifications.Stores;

namespace Api.Tests.Forms;

public sealed class FormsApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Answers(params (string Key, string Value)[] answers) =>
        ApiTestHost.JsonBody(new { answers = answers.ToDictionary(a => a.Key, a => a.Value) });

    [Fact]
    public async Task Create_ReturnsCreatedForm_AndActiveListShowsIt()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/forms", ApiTestHost.JsonBody(new
        {
            title = "Course feedback", isActive = true, fields = new[] { new { name = "rating", label = "Rating", type = "text", required = true } },
        }), Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var form = await ApiTestHost.ReadAsync<Form>(response);
        var active = await ApiTestHost.ReadAsync<List<Form>>(await host.Student("s1").GetAsync("/api/forms/active", Ct));
        Assert.Equal(form.Id, Assert.Single(active).Id);
        var one = await ApiTestHost.ReadAsync<Form>(await host.Student("s1").GetAsync($"/api/forms/{form.Id}", Ct));
        Assert.Equal("rating", Assert.Single(one.Fields).Name);
    }

    [Fact]
    public async Task Create_ReturnsValidationProblem_WhenTitleIsMissing()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/forms", ApiTestHost.JsonBody(new { title = "", isActive = true }), Ct);
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("title", out _));
    }

    [Fact]
    public async Task Create_ReturnsValidationProblem_AndStoresNothing_WhenAFieldIsNull()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/forms",
            new StringContent("""{"title":"Feedback","isActive":true,"fields":[{"name":"comment","required":false},null]}""", System.Text.Encoding.UTF8, "application/json"), Ct);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("fields[1]", out _));
        Assert.Empty(await ApiTestHost.ReadAsync<List<Notifications.Stores.Form>>(await host.Staff().GetAsync("/api/forms/active", Ct)));
    }

    [Fact]
    public async Task Create_ReturnsBadRequest_WhenBodyIsNotJson()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/forms", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Get_ReturnsNotFound_ForUnknownForm()
    {
        await using var host = await ApiTestHost.StartAsync();
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/forms/unknown", Ct), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Submit_ReturnsAcceptedWithTwoNotificationIds_AndQueuesConfirmation()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();

        var response = await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "Great")), Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await ApiTestHost.ReadAsync<SubmissionAccepted>(response);
        Assert.Equal(2, accepted.NotificationIds.Count);
        Assert.Equal($"/api/notifications/{accepted.NotificationIds[0]}", accepted.StatusUrl);
        Assert.Equal(accepted.StatusUrl, response.Headers.Location?.ToString());
        var stats = await host.QueueStatsAsync();
        Assert.Equal(2, stats.Lanes.Single(l => l.Priority == Notifications.Tasks.NotificationPriority.Normal).Pending);

        var task = await host.Multiplexer.GetDatabase().HashGetAsync(host.QueueKeys.Tasks, accepted.NotificationIds[0]);
        var sms = Notifications.Tasks.TaskJson.Deserialize((byte[])task!);
        Assert.Equal(student.Phone, sms.Data.Phone);
        Assert.Contains(form.Title, sms.Data.Message, StringComparison.Ordinal);
        Assert.Equal(accepted.SubmissionId, sms.Correlation?.SubmissionId);
    }

    [Fact]
    public async Task Submit_LogsQueuedEvents_InDeliveryLog()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var accepted = await ApiTestHost.ReadAsync<SubmissionAccepted>(
            await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "ok")), Ct));

        var record = await host.Service<IDeliveryLog>().GetAsync(accepted.NotificationIds[1], Ct);
        Assert.Equal(DeliveryStatus.Queued, record.Status);
        Assert.Equal(student.Email, record.Recipient);
    }

    [Fact]
    public async Task Submit_ReturnsSameIdsAndQueuesOnce_WhenRetriedWithIdempotencyKey()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var client = host.Student(student.Id);
        client.DefaultRequestHeaders.Add("Idempotency-Key", "submit-1");

        var first = await ApiTestHost.ReadAsync<SubmissionAccepted>(await client.PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "a")), Ct));
        var second = await ApiTestHost.ReadAsync<SubmissionAccepted>(await client.PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "a")), Ct));

        Assert.Equal(first.SubmissionId, second.SubmissionId);
        Assert.Equal(first.NotificationIds, second.NotificationIds);
        Assert.Equal(2, (await host.QueueStatsAsync()).Counters.Enqueued);
    }

    [Fact]
    public async Task Submit_RetriedWithIdempotencyKey_WhenTheSavedAnswerIsDamaged_IsAnsweredAfresh_AndStoredOnce()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var client = host.Student(student.Id);
        client.DefaultRequestHeaders.Add("Idempotency-Key", "submit-damaged-answer");
        var first = await ApiTestHost.ReadAsync<SubmissionAccepted>(await client.PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "a")), Ct));
        // Written by another version, or damaged: what Redis holds is not a saved answer.
        await foreach (var key in host.Multiplexer.GetServers().Single().KeysAsync(pattern: "api:idempotency:*"))
        {
            await host.Multiplexer.GetDatabase().StringSetAsync(key, "{\"fingerprint\": 42, \"response\": [");
        }

        var retry = await client.PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "a")), Ct);

        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        Assert.Equal(first.SubmissionId, (await ApiTestHost.ReadAsync<SubmissionAccepted>(retry)).SubmissionId);
        var stored = await host.Service<IFormSubmissionStore>().ListByFormAsync(form.Id, new PageRequest(0, 10), Ct);
        Assert.Single(stored.Items);
        Assert.Equal(2, (await host.QueueStatsAsync()).Counters.Enqueued);
    }

    [Fact]
    public async Task Submit_StoresOnce_WhenRetriedWithIdempotencyKey_AfterTheSavedAnswerIsLost_OrAtTheSameTime()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var client = host.Student(student.Id);
        client.DefaultRequestHeaders.Add("Idempotency-Key", "submit-lost-answer");

        var first = await ApiTestHost.ReadAsync<SubmissionAccepted>(await client.PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "a")), Ct));
        // The saved answer is gone (Redis was away when it was to be saved, or it expired): the retry is answered afresh.
        await host.ForgetSavedAnswersAsync();
        // Three copies at once, as a client that timed out and retried might send them.
        var retries = await Task.WhenAll(Enumerable.Range(0, 3).Select(async _ =>
            await ApiTestHost.ReadAsync<SubmissionAccepted>(await client.PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "a")), Ct))));

        Assert.All(retries, r => Assert.Equal(first.SubmissionId, r.SubmissionId));
        // Without the saved answer the retry cannot name the first request's tasks: its status URL lists the student's SMS.
        Assert.All(retries, r => Assert.Empty(r.NotificationIds));
        Assert.All(retries, r => Assert.Equal($"/api/notifications?recipient={Uri.EscapeDataString(student.Phone)}", r.StatusUrl));
        var stored = await host.Service<IFormSubmissionStore>().ListByFormAsync(form.Id, new PageRequest(0, 10), Ct);
        Assert.Equal(first.SubmissionId, Assert.Single(stored.Items).Id);
        Assert.Equal(2, (await host.QueueStatsAsync()).Counters.Enqueued);
    }

    [Fact]
    public async Task Submit_AnswersUnprocessable_WhenAnIdempotencyKeyIsReusedForOtherAnswers_OrAfterItsWindow()
    {
        await using var host = await ApiTestHost.StartAsync(settings => settings["NotificationQueue:IdempotencyWindow"] = "00:00:01");
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var client = host.Student(student.Id);
        client.DefaultRequestHeaders.Add("Idempotency-Key", "submit-reused");

        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "a")), Ct)).StatusCode);
        await host.ForgetSavedAnswersAsync();
        var otherAnswers = await client.PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "b")), Ct);
        await Task.Delay(TimeSpan.FromSeconds(1.5), Ct);
        await host.ForgetSavedAnswersAsync();
        var tooLate = await client.PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "a")), Ct);

        await ProblemAssert.IsProblemAsync(otherAnswers, HttpStatusCode.UnprocessableEntity);
        await ProblemAssert.IsProblemAsync(tooLate, HttpStatusCode.UnprocessableEntity);
        var stored = await host.Service<IFormSubmissionStore>().ListByFormAsync(form.Id, new PageRequest(0, 10), Ct);
        Assert.Equal("a", Assert.Single(stored.Items).Answers["comment"]);
        Assert.Equal(2, (await host.QueueStatsAsync()).Counters.Enqueued);
    }

    [Fact]
    public async Task Submit_ReturnsValidationProblem_WhenRequiredAnswerIsMissingOrUnknown()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();

        var response = await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions", Answers(("other", "x")), Ct);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("answers.comment", out _));
        Assert.True(errors.TryGetProperty("answers.other", out _));
        Assert.Equal(0, (await host.QueueStatsAsync()).Pending);
    }

    [Fact]
    public async Task Submit_ReturnsValidationProblem_AndStoresNothing_WhenAnAnswerIsTooLong()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();

        var response = await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions",
            Answers(("comment", new string('x', FieldLimits.AnswerValue + 1))), Ct);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("answers.comment", out _));
        Assert.Equal(0, (await host.Service<IFormSubmissionStore>().ListByFormAsync(form.Id, new PageRequest(0, 1), Ct)).Total);
        Assert.Equal(0, (await host.QueueStatsAsync()).Pending);
    }

    [Fact]
    public async Task Submit_ReturnsNotFound_ForUnknownFormOrStudent()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();

        await ProblemAssert.IsProblemAsync(await host.Student(student.Id).PostAsync("/api/forms/unknown/submissions", Answers(("comment", "x")), Ct), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await host.Student("ghost").PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "x")), Ct), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Submit_SendsToTheCorrectedPhone_AfterAnUploadChangesTheStudent()
    {
        await using var host = await ApiTestHost.StartAsync();
        var form = await host.SeedFormAsync();
        async Task<string> UploadAndSubmitAsync(string phone)
        {
            var upload = await host.Staff().PostAsync("/api/students/upload", Uploads.Csv($"{Uploads.Header}\nAsha,asha@example.edu,{phone},R1,B1"), Ct);
            Assert.Equal(HttpStatusCode.Accepted, upload.StatusCode);
            var student = await host.Service<IStudentStore>().GetByRollNumberAsync("R1", Ct);
            var accepted = await ApiTestHost.ReadAsync<SubmissionAccepted>(
                await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "ok")), Ct));
            var task = await host.Multiplexer.GetDatabase().HashGetAsync(host.QueueKeys.Tasks, accepted.NotificationIds[0]);
            return Notifications.Tasks.TaskJson.Deserialize((byte[])task!).Data.Phone!;
        }

        // The first submission puts the student's record in the Api's cache; the second upload must evict it.
        Assert.Equal("+919876500001", await UploadAndSubmitAsync("9876500001"));
        Assert.Equal("+919876500002", await UploadAndSubmitAsync("9876500002"));
    }

    [Fact]
    public async Task Submit_ReturnsConflict_WhenFormIsClosed()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync(active: false);
        await ProblemAssert.IsProblemAsync(await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "x")), Ct), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Submissions_AndAnalytics_CountTheSubmissions()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        for (var i = 0; i < 3; i++)
        {
            await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", $"c{i}")), Ct);
        }

        var page = await ApiTestHost.ReadAsync<PagedList<FormSubmission>>(await host.Staff().GetAsync($"/api/forms/{form.Id}/submissions?pageSize=2", Ct));
        Assert.Equal(3, page.Total);
        Assert.Equal(2, page.Items.Count);
        var analytics = await ApiTestHost.ReadAsync<FormAnalytics>(await host.Staff().GetAsync($"/api/forms/{form.Id}/analytics", Ct));
        Assert.Equal(3, analytics.Total);
    }

    [Fact]
    public async Task SubmissionsAndAnalytics_ReturnNotFound_ForUnknownForm()
    {
        await using var host = await ApiTestHost.StartAsync();
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/forms/unknown/submissions", Ct), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/forms/unknown/analytics", Ct), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Json_UsesCamelCase()
    {
        await using var host = await ApiTestHost.StartAsync();
        var form = await host.SeedFormAsync();
        var json = JsonDocument.Parse(await host.Staff().GetStringAsync($"/api/forms/{form.Id}", Ct)).RootElement;
        Assert.True(json.TryGetProperty("isActive", out _));
    }

    [Fact]
    public async Task ExportSubmissions_HasOneColumnPerField_AndEscapesFormulaAnswers()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync(true, new FormField("comment", "Comment", Required: true), new FormField("rating", "Rating"));
        await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "Clear, thanks"), ("rating", "5")), Ct);
        await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions", Answers(("comment", "@SUM(1+1)")), Ct);

        var rows = await CsvDownloads.ReadAsync(await host.Staff().GetAsync($"/api/forms/{form.Id}/submissions/export", Ct));

        Assert.Equal(["submitted at", "roll number", "student id", "status", "comment", "rating"], rows[0]);
        Assert.Equal(3, rows.Count);
        Assert.Equal([student.RollNumber, student.Id, "'@SUM(1+1)", ""], [rows[1][1], rows[1][2], rows[1][4], rows[1][5]]);
        Assert.Equal(["Clear, thanks", "5"], rows[2][4..]);
        Assert.True(DateTime.TryParse(rows[2][0], System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _));
    }

    [Fact]
    public async Task ExportSubmissions_ReturnsNotFound_ForUnknownForm_AndForbidden_ForStudents()
    {
        await using var host = await ApiTestHost.StartAsync();
        var form = await host.SeedFormAsync();
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/forms/unknown/submissions/export", Ct), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Student("s1").GetAsync($"/api/forms/{form.Id}/submissions/export", Ct)).StatusCode);
    }
}
