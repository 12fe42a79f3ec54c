using System.Net;
using Api.Forms;
using Api.Sending;
using Api.Students;
using Api.Tests.Infrastructure;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;

namespace Api.Tests.Deliveries;

public sealed class NotificationsApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Get_ReturnsTimeline_AndListFiltersByRecipientAndStatus()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var accepted = await ApiTestHost.ReadAsync<SubmissionAccepted>(await host.Student(student.Id)
            .PostAsync($"/api/forms/{form.Id}/submissions", ApiTestHost.JsonBody(new { answers = new { comment = "x" } }), Ct));

        var record = await ApiTestHost.ReadAsync<DeliveryRecord>(await host.Staff().GetAsync(accepted.StatusUrl, Ct));
        Assert.Equal(DeliveryStatus.Queued, Assert.Single(record.Timeline).Status);

        var byRecipient = await ApiTestHost.ReadAsync<PagedList<DeliveryRecord>>(
            await host.Staff().GetAsync($"/api/notifications?recipient={Uri.EscapeDataString(student.Phone)}&status=queued", Ct));
        Assert.Equal(accepted.NotificationIds[0], Assert.Single(byRecipient.Items).TaskId);
        var sent = await ApiTestHost.ReadAsync<PagedList<DeliveryRecord>>(await host.Staff().GetAsync("/api/notifications?status=sent", Ct));
        Assert.Equal(0, sent.Total);
    }

    [Fact]
    public async Task Get_AnswersFromTheQueue_ForAQueuedTaskTheLogHasNotWrittenYet()
    {
        await using var host = await ApiTestHost.StartAsync();
        // Queued straight into Redis, as the Api does before its background log write: the log has no record of it.
        var request = NotificationRequest.Sms("+919876543210", "Your form was received.") with
        {
            Correlation = new Correlation { SubmissionId = "sub-1", StudentId = "stu-1" },
        };
        var queued = await host.Service<NotificationQueue>().EnqueueAsync(request, Ct);
        var logged = await ApiTestHost.ReadAsync<PagedList<DeliveryRecord>>(await host.Staff().GetAsync("/api/notifications?recipient=%2B919876543210", Ct));
        Assert.Equal(0, logged.Total);

        var record = await ApiTestHost.ReadAsync<DeliveryRecord>(await host.Staff().GetAsync($"/api/notifications/{queued.TaskId}", Ct));

        Assert.Equal((queued.TaskId, DeliveryStatus.Queued, NotificationType.Sms, "+919876543210"), (record.TaskId, record.Status, record.Channel, record.Recipient));
        Assert.Equal(("sub-1", "stu-1"), (record.SubmissionId, record.StudentId));
        Assert.Equal(DeliveryStatus.Queued, Assert.Single(record.Timeline).Status);
        Assert.InRange(record.CreatedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        // The same ownership rule as for a logged task.
        Assert.Equal(HttpStatusCode.OK, (await host.Student("stu-1").GetAsync($"/api/notifications/{queued.TaskId}", Ct)).StatusCode);
        await ProblemAssert.IsProblemAsync(await host.Student("stu-2").GetAsync($"/api/notifications/{queued.TaskId}", Ct), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Get_OpensAStudentsOwnConfirmation_ToThatStudentAlone()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var accepted = await ApiTestHost.ReadAsync<SubmissionAccepted>(await host.Student(student.Id)
            .PostAsync($"/api/forms/{form.Id}/submissions", ApiTestHost.JsonBody(new { answers = new { comment = "x" } }), Ct));

        // The status URL of the 202 works for the student who got it, before and after the log has the task.
        Assert.Equal(student.Id, (await ApiTestHost.ReadAsync<DeliveryRecord>(await host.Student(student.Id).GetAsync(accepted.StatusUrl, Ct))).StudentId);
        Assert.Equal(student.Id, (await ApiTestHost.ReadAsync<DeliveryRecord>(await host.Student(student.Id).GetAsync(accepted.StatusUrl, Ct))).StudentId);

        // The provider's ids and error texts are for staff.
        await host.Service<IDeliveryLog>().AppendAsync(new DeliveryEvent(accepted.NotificationIds[0], DeliveryStatus.Retrying, DateTimeOffset.UtcNow,
            NotificationType.Sms, student.Phone) { Attempt = 1, Provider = "bulksms", Error = "HTTP 503 from gateway 10.0.0.7" }, Ct);
        var own = await ApiTestHost.ReadAsync<DeliveryRecord>(await host.Student(student.Id).GetAsync(accepted.StatusUrl, Ct));
        Assert.Equal((DeliveryStatus.Retrying, null, null), (own.Status, own.Provider, own.LastError));
        Assert.All(own.Timeline, e => Assert.Null(e.Error));
        Assert.Equal("bulksms", (await ApiTestHost.ReadAsync<DeliveryRecord>(await host.Staff().GetAsync(accepted.StatusUrl, Ct))).Provider);

        // Another student cannot tell it from an unknown task; nobody reads it without a valid token.
        await ProblemAssert.IsProblemAsync(await host.Student("someone-else").GetAsync(accepted.StatusUrl, Ct), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await host.Student("someone-else").GetAsync("/api/notifications/unknown", Ct), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await host.Anonymous().GetAsync(accepted.StatusUrl, Ct), HttpStatusCode.Unauthorized);
        await ProblemAssert.IsProblemAsync(await host.WithToken(ApiTestHost.Token("student", student.Id, secret: "another-secret-key-that-is-long-enough-123"))
            .GetAsync(accepted.StatusUrl, Ct), HttpStatusCode.Unauthorized);
        await ProblemAssert.IsProblemAsync(await host.WithToken(ApiTestHost.Token("teacher", student.Id)).GetAsync(accepted.StatusUrl, Ct), HttpStatusCode.Forbidden);

        // A student's list is theirs alone and needs a recipient; another student with the same phone sees none of it.
        var byPhone = $"/api/notifications?recipient={Uri.EscapeDataString(student.Phone)}";
        var list = await ApiTestHost.ReadAsync<PagedList<DeliveryRecord>>(await host.Student(student.Id).GetAsync(byPhone, Ct));
        Assert.Equal(accepted.NotificationIds[0], Assert.Single(list.Items).TaskId);
        Assert.Null(list.Items[0].Provider);
        Assert.Equal(0, (await ApiTestHost.ReadAsync<PagedList<DeliveryRecord>>(await host.Student("someone-else").GetAsync(byPhone, Ct))).Total);
        await ProblemAssert.IsProblemAsync(await host.Student(student.Id).GetAsync("/api/notifications", Ct), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Get_ReturnsNotFound_ForUnknownTask_AndListRejectsUnknownStatus()
    {
        await using var host = await ApiTestHost.StartAsync();
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/notifications/unknown", Ct), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/notifications?status=lost", Ct), HttpStatusCode.BadRequest);
    }
}
