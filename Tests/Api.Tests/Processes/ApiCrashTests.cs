using System.Net;
using System.Text;
using Api.Tests.Infrastructure;

namespace Api.Tests.Processes;

/// <summary>
/// The Api SIGKILLed at random points of an upload and of a burst of submissions, then restarted, with every
/// client retrying with the same Idempotency-Key: each stored student is welcomed exactly once and each stored
/// submission confirmed exactly once. The random points come from a seed written to the output, so a failure
/// can be repeated.
/// </summary>
public sealed class ApiCrashTests
{
    private const int Students = 5_000;
    private const int Submitters = 200;

    [Fact]
    public async Task KilledDuringAnUpload_ThenRetried_WelcomesEveryStoredStudentExactlyOnce()
    {
        var seed = Environment.TickCount;
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {seed}");
        var random = new Random(seed);
        await using var system = await ApiProcessSystem.StartAsync();
        var csv = Encoding.UTF8.GetBytes(ApiProcessSystem.Csv(Students, "K"));
        var staff = ApiTestHost.Token("staff");

        // Two kills at random points of the upload (before, during or after its chunks), then a run that finishes.
        for (var kill = 0; kill < 2; kill++)
        {
            using var api = await system.StartApiAsync();
            using var http = api.Client(staff);
            var upload = UploadAsync(http, csv);
            await Task.Delay(random.Next(0, 1_500), TestContext.Current.CancellationToken);
            api.Kill();
            try
            {
                await upload;
            }
            catch (HttpRequestException)
            {
                // Killed under the request (the usual case); an upload that finished first is answered again below.
            }
        }
        using (var api = await system.StartApiAsync())
        {
            using var http = api.Client(staff);
            var response = await UploadAsync(http, csv);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            await system.WaitForOutboxMovedAsync(TimeSpan.FromSeconds(60));
        }

        var stored = await system.RowsAsync("SELECT roll_number, phone, email FROM students;");
        Assert.Equal(Students, stored.Count);
        var welcomes = (await system.QueuedTasksAsync()).Where(t => t.IdempotencyKey?.StartsWith("welcome:", StringComparison.Ordinal) == true).ToList();
        // One SMS to each stored phone and one email to each stored address, and nothing else.
        Assert.Equal(stored.Select(s => s[1]).Order(), welcomes.Where(t => t.Type == Notifications.Tasks.NotificationType.Sms).Select(t => t.Recipient).Order());
        Assert.Equal(stored.Select(s => s[2]).Order(), welcomes.Where(t => t.Type == Notifications.Tasks.NotificationType.Email).Select(t => t.Recipient).Order());
        Assert.Equal(2 * Students, await system.ScalarAsync("SELECT count(*) FROM delivery_tasks;"));
    }

    [Fact]
    public async Task KilledDuringABurstOfSubmissions_ThenRetried_ConfirmsEveryStoredSubmissionExactlyOnce()
    {
        var seed = Environment.TickCount;
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {seed}");
        var random = new Random(seed);
        await using var system = await ApiProcessSystem.StartAsync();
        var api = await system.StartApiAsync();
        string formId;
        try
        {
            using var staff = api.Client(ApiTestHost.Token("staff"));
            Assert.Equal(HttpStatusCode.Accepted, (await UploadAsync(staff, Encoding.UTF8.GetBytes(ApiProcessSystem.Csv(Submitters, "S")))).StatusCode);
            var form = await staff.PostAsync("/api/forms", ApiTestHost.JsonBody(new { title = "Feedback", isActive = true, fields = new[] { new { name = "comment", required = true } } }), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Created, form.StatusCode);
            formId = (await ApiTestHost.ReadAsync<Notifications.Stores.Form>(form)).Id;
        }
        catch
        {
            api.Dispose();
            throw;
        }
        var students = (await system.RowsAsync("SELECT id FROM students;")).Select(r => r[0]).ToList();

        // Every student submits once, with a key of their own, and retries whatever fails until it is answered,
        // while the Api is killed twice at random moments and started again.
        var current = api;
        var submitting = students.Select((id, i) => SubmitUntilAcceptedAsync(() => current.BaseAddress, id, formId, $"burst-{i}")).ToList();
        for (var kill = 0; kill < 2; kill++)
        {
            await Task.Delay(random.Next(0, 800), TestContext.Current.CancellationToken);
            current.Kill();
            current.Dispose();
            current = await system.StartApiAsync();
        }
        try
        {
            await Task.WhenAll(submitting);
            await system.WaitForOutboxMovedAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            current.Dispose();
        }

        var stored = await system.RowsAsync("SELECT id FROM form_submissions;");
        Assert.Equal(Submitters, stored.Count);
        var confirmations = (await system.QueuedTasksAsync()).Where(t => t.Correlation?.SubmissionId is not null).ToList();
        // Exactly an SMS and an email for each stored submission, and none for a submission that is not stored.
        var perSubmission = confirmations.GroupBy(t => t.Correlation!.SubmissionId!).ToDictionary(g => g.Key, g => g.Select(t => t.Type).Order().ToList());
        Assert.Equal(stored.Select(s => s[0]).Order(), perSubmission.Keys.Order());
        Assert.All(perSubmission.Values, types => Assert.Equal([Notifications.Tasks.NotificationType.Sms, Notifications.Tasks.NotificationType.Email], types));
    }

    private static Task<HttpResponseMessage> UploadAsync(HttpClient http, byte[] csv)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/students/upload") { Content = Uploads.File(csv, "students.csv", "text/csv") };
        request.Headers.Add("Idempotency-Key", "crash-upload");
        return http.SendAsync(request);
    }

    private static async Task SubmitUntilAcceptedAsync(Func<Uri> api, string studentId, string formId, string key)
    {
        var token = ApiTestHost.Token("student", studentId);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            try
            {
                using var http = new HttpClient { BaseAddress = api(), Timeout = TimeSpan.FromSeconds(30) };
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/forms/{formId}/submissions")
                {
                    Content = ApiTestHost.JsonBody(new { answers = new { comment = "fine" } }),
                };
                request.Headers.Add("Idempotency-Key", key);
                using var response = await http.SendAsync(request);
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    return;
                }
                Assert.True(response.StatusCode >= HttpStatusCode.InternalServerError, $"A submission was refused: {(int)response.StatusCode}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // The Api was killed under the request, or is not back yet: send it again with the same key.
            }
            Assert.True(DateTime.UtcNow < deadline, "A submission was not accepted within 2 minutes.");
            await Task.Delay(50);
        }
    }
}
