using System.Net;
using Api.Batches;
using Api.Sending;
using Api.Students;
using Api.Tests.Infrastructure;
using Notifications.Stores;
using Notifications.Tasks;

namespace Api.Tests.Batches;

public sealed class BatchesApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AddStudents_QueuesANoticeToEach_AndProgressCountsThem()
    {
        await using var host = await ApiTestHost.StartAsync();
        var a = await host.SeedStudentAsync("R1", "+919876543210");
        var b = await host.SeedStudentAsync("R2", "+919876543211");
        var created = await host.Staff().PostAsync("/api/batches", ApiTestHost.JsonBody(new { name = "Morning" }), Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var batch = await ApiTestHost.ReadAsync<Batch>(created);

        var response = await host.Staff().PostAsync($"/api/batches/{batch.Id}/students", ApiTestHost.JsonBody(new { studentIds = new[] { a.Id, b.Id } }), Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var added = await ApiTestHost.ReadAsync<StudentsAdded>(response);
        Assert.Equal(2, added.Added);
        Assert.Equal(4, added.NotificationsQueued);
        Assert.Equal(4, (await host.QueueStatsAsync()).Lanes.Single(l => l.Priority == NotificationPriority.Bulk).Pending);

        var view = await ApiTestHost.ReadAsync<BatchView>(await host.Staff().GetAsync($"/api/batches/{batch.Id}", Ct));
        // Two SMS notices of one part each (counted when queued), and two emails.
        Assert.Equal(new BatchProgress(0, 0, 4, 4) { SmsParts = 2 }, view.Progress);

        // The worker's outcome moves the progress on.
        await host.Service<IDeliveryLog>().AppendAsync(new DeliveryEvent(added.NotificationIds[0], DeliveryStatus.Sent, DateTimeOffset.UtcNow, NotificationType.Sms, a.Phone), Ct);
        await host.Service<IDeliveryLog>().AppendAsync(new DeliveryEvent(added.NotificationIds[1], DeliveryStatus.Dead, DateTimeOffset.UtcNow, NotificationType.Email, a.Email), Ct);
        view = await ApiTestHost.ReadAsync<BatchView>(await host.Staff().GetAsync($"/api/batches/{batch.Id}", Ct));
        Assert.Equal(new BatchProgress(1, 1, 2, 4) { SmsParts = 2 }, view.Progress);
    }

    [Fact]
    public async Task Create_QueuesANoticeToEachStudentItStartsWith_AndAddingThemAgainQueuesNothing()
    {
        await using var host = await ApiTestHost.StartAsync();
        var a = await host.SeedStudentAsync("R1", "+919876543210");
        var b = await host.SeedStudentAsync("R2", "+919876543211");

        var batch = await ApiTestHost.ReadAsync<Batch>(await host.Staff().PostAsync("/api/batches",
            ApiTestHost.JsonBody(new { name = "Morning", studentIds = new[] { a.Id, b.Id } }), Ct));
        var again = await ApiTestHost.ReadAsync<StudentsAdded>(await host.Staff().PostAsync($"/api/batches/{batch.Id}/students",
            ApiTestHost.JsonBody(new { studentIds = new[] { a.Id, b.Id } }), Ct));

        Assert.Equal(0, again.Added);
        Assert.Equal(4, (await host.QueueStatsAsync()).Counters.Enqueued);
        Assert.Equal(new BatchProgress(0, 0, 4, 4) { SmsParts = 2 }, (await ApiTestHost.ReadAsync<BatchView>(await host.Staff().GetAsync($"/api/batches/{batch.Id}", Ct))).Progress);
    }

    [Fact]
    public async Task AddStudents_DoesNotNotifyTwice_WhenStudentIsAddedAgain()
    {
        await using var host = await ApiTestHost.StartAsync();
        var a = await host.SeedStudentAsync();
        var batch = await ApiTestHost.ReadAsync<Batch>(await host.Staff().PostAsync("/api/batches", ApiTestHost.JsonBody(new { name = "Evening" }), Ct));
        var body = new { studentIds = new[] { a.Id } };
        await host.Staff().PostAsync($"/api/batches/{batch.Id}/students", ApiTestHost.JsonBody(body), Ct);
        var again = await ApiTestHost.ReadAsync<StudentsAdded>(await host.Staff().PostAsync($"/api/batches/{batch.Id}/students", ApiTestHost.JsonBody(body), Ct));

        Assert.Equal(0, again.Added);
        Assert.Equal(2, (await host.QueueStatsAsync()).Counters.Enqueued);
    }

    [Fact]
    public async Task AddStudents_ReturnsNotFound_ForUnknownBatchOrStudent()
    {
        await using var host = await ApiTestHost.StartAsync();
        var a = await host.SeedStudentAsync();
        var batch = await ApiTestHost.ReadAsync<Batch>(await host.Staff().PostAsync("/api/batches", ApiTestHost.JsonBody(new { name = "B" }), Ct));

        await ProblemAssert.IsProblemAsync(await host.Staff().PostAsync("/api/batches/unknown/students", ApiTestHost.JsonBody(new { studentIds = new[] { a.Id } }), Ct), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await host.Staff().PostAsync($"/api/batches/{batch.Id}/students", ApiTestHost.JsonBody(new { studentIds = new[] { "ghost" } }), Ct), HttpStatusCode.NotFound);
        Assert.Equal(0, (await host.QueueStatsAsync()).Counters.Enqueued);
    }

    [Fact]
    public async Task AddStudents_ReturnsValidationProblem_WhenNoStudentIsNamed()
    {
        await using var host = await ApiTestHost.StartAsync();
        var batch = await ApiTestHost.ReadAsync<Batch>(await host.Staff().PostAsync("/api/batches", ApiTestHost.JsonBody(new { name = "B" }), Ct));
        await ProblemAssert.IsProblemAsync(await host.Staff().PostAsync($"/api/batches/{batch.Id}/students", ApiTestHost.JsonBody(new { studentIds = Array.Empty<string>() }), Ct), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Create_ReturnsConflict_WhenNameExists_AndBadRequest_WhenNameIsEmpty()
    {
        await using var host = await ApiTestHost.StartAsync();
        await host.Staff().PostAsync("/api/batches", ApiTestHost.JsonBody(new { name = "Same" }), Ct);
        await ProblemAssert.IsProblemAsync(await host.Staff().PostAsync("/api/batches", ApiTestHost.JsonBody(new { name = "Same" }), Ct), HttpStatusCode.Conflict);
        await ProblemAssert.IsProblemAsync(await host.Staff().PostAsync("/api/batches", ApiTestHost.JsonBody(new { name = " " }), Ct), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task List_ReturnsBatchesWithProgress_AndGetReturnsNotFoundForUnknownId()
    {
        await using var host = await ApiTestHost.StartAsync();
        await host.Staff().PostAsync("/api/batches", ApiTestHost.JsonBody(new { name = "One" }), Ct);
        await host.Staff().PostAsync("/api/batches", ApiTestHost.JsonBody(new { name = "Two" }), Ct);

        var page = await ApiTestHost.ReadAsync<PagedList<BatchView>>(await host.Staff().GetAsync("/api/batches", Ct));
        Assert.Equal(2, page.Total);
        Assert.All(page.Items, b => Assert.Equal(0, b.Progress.Total));
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/batches/unknown", Ct), HttpStatusCode.NotFound);
    }
}
