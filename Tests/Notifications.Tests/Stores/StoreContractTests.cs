using Microsoft.Extensions.Options;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;

namespace Notifications.Tests.Stores;

/// <summary>
/// What every store implementation must do. Each subclass runs the same tests against one backend;
/// each test starts its own empty store.
/// </summary>
public abstract partial class StoreContractTests
{
    // Recent times: the delivery log's retention (SQLite pruning, MongoDB TTL) would delete old ones mid-test.
    private static readonly DateTimeOffset s_midnight = new(DateTime.UtcNow.Date.AddDays(-2), TimeSpan.Zero);
    private static readonly DateTimeOffset s_day = s_midnight.AddHours(9);

    private protected abstract Task<StoreHarness> StartAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StudentUpsert Row(string rollNumber, string name = "Asha Rao", string? batchId = null) =>
        new(rollNumber, name, $"{rollNumber.ToLowerInvariant()}@example.org", "+919876543210", batchId);

    private static readonly NotificationTaskFactory s_tasks = new(Options.Create(new QueueOptions()), TimeProvider.System);

    private static IReadOnlyList<PreparedTask> Welcome(Student student) =>
        s_tasks.PrepareAll([NotificationRequest.Sms(student.Phone, "Welcome " + student.Name) with
        {
            IdempotencyKey = $"welcome:{student.RollNumber}:sms", Correlation = new Correlation { StudentId = student.Id },
        }]);

    private static async Task<List<NotificationTask>> OutboxTasksAsync(StoreHarness stores) =>
        [.. (await stores.Outbox.ReadOldestAsync(10_000, Ct)).Select(e => PreparedTask.FromBody(e.Body).Task)];

    // Students

    [Fact]
    public async Task Upsert_CountsInsertedAndUpdated_WhenSomeRollNumbersExist()
    {
        await using var stores = await StartAsync();
        var first = await stores.Students.UpsertManyAsync([Row("R1"), Row("R2")], Ct);
        Assert.Equal((2, 0), (first.Inserted, first.Updated));
        Assert.Equal(["R1", "R2"], first.InsertedRollNumbers);

        var counts = await stores.Students.UpsertManyAsync([Row("R2", "Changed"), Row("R3")], Ct);

        // The new roll numbers are named: the Api welcomes those students alone.
        Assert.Equal((1, 1), (counts.Inserted, counts.Updated));
        Assert.Equal(["R3"], counts.InsertedRollNumbers);
        Assert.Equal("Changed", (await stores.Students.GetByRollNumberAsync("R2", Ct)).Name);
        Assert.Equal(3, (await stores.Students.ListAsync(new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task Upsert_KeepsOneRow_WhenRollNumberRepeats()
    {
        await using var stores = await StartAsync();

        var counts = await stores.Students.UpsertManyAsync([Row("R1", "First"), Row("R2"), Row("R1", "Last")], Ct);

        Assert.Equal((2, 0), (counts.Inserted, counts.Updated));
        Assert.Equal(["R1", "R2"], counts.InsertedRollNumbers);
        var page = await stores.Students.ListAsync(new PageRequest(), Ct);
        Assert.Equal(["R1", "R2"], page.Items.Select(s => s.RollNumber));
        Assert.Equal("Last", page.Items[0].Name);
    }

    [Fact]
    public async Task Upsert_KeepsIdAndCreatedAt_WhenRowIsUpdated()
    {
        await using var stores = await StartAsync();
        await stores.Students.UpsertManyAsync([Row("R1", batchId: "b-1")], Ct);
        var before = await stores.Students.GetByRollNumberAsync("R1", Ct);

        await stores.Students.UpsertManyAsync([Row("R1", "Renamed")], Ct);
        var after = await stores.Students.GetAsync(before.Id, Ct);

        Assert.Equal(before.Id, after.Id);
        Assert.Equal(before.CreatedAt, after.CreatedAt);
        Assert.True(after.UpdatedAt >= before.UpdatedAt);
        Assert.Equal("Renamed", after.Name);
        Assert.Null(after.BatchId);
    }

    [Fact]
    public async Task Upsert_StoresEveryRow_WhenThousandsComeInOneCall()
    {
        await using var stores = await StartAsync();
        var rows = Enumerable.Range(0, 5_000).Select(i => Row($"R{i:D5}")).ToList();

        var counts = await stores.Students.UpsertManyAsync(rows, Ct);

        Assert.Equal((5_000, 0, 5_000), (counts.Inserted, counts.Updated, counts.InsertedRollNumbers.Count));
        var lastPage = await stores.Students.ListAsync(new PageRequest(4_990, 50), Ct);
        Assert.Equal(5_000, lastPage.Total);
        Assert.Equal("R04999", lastPage.Items[^1].RollNumber);
    }

    [Fact]
    public async Task Upsert_WritesNothing_WhenOneRowOfTheUploadIsInvalid()
    {
        await using var stores = await StartAsync();
        var rows = Enumerable.Range(0, 1_000).Select(i => Row($"R{i:D4}")).ToList();
        rows[700] = rows[700] with { Phone = "98765 43210" };

        var error = await Assert.ThrowsAsync<InvalidFieldException>(() => stores.Students.UpsertManyAsync(rows, Ct));

        Assert.Equal("students[700].phone", error.Field);
        Assert.Equal(0, (await stores.Students.ListAsync(new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task Upsert_ThrowsFieldTooLong_WhenANameExceedsItsLimit()
    {
        await using var stores = await StartAsync();
        var tooLong = new string('x', FieldLimits.Name + 1);

        var error = await Assert.ThrowsAsync<FieldTooLongException>(() => stores.Students.UpsertManyAsync([Row("R1"), Row("R2", tooLong)], Ct));

        Assert.Equal(FieldLimits.Name, error.MaxLength);
        Assert.Equal(0, (await stores.Students.ListAsync(new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task List_ReturnsPagesInRollNumberOrder_WithTheTotal()
    {
        await using var stores = await StartAsync();
        await stores.Students.UpsertManyAsync([Row("C"), Row("A"), Row("E"), Row("B"), Row("D")], Ct);

        var page = await stores.Students.ListAsync(new PageRequest(Offset: 1, Limit: 2), Ct);

        Assert.Equal(5, page.Total);
        Assert.Equal(["B", "C"], page.Items.Select(s => s.RollNumber));
    }

    [Fact]
    public async Task List_ThrowsInvalidField_WhenLimitIsOutOfRange()
    {
        await using var stores = await StartAsync();

        var error = await Assert.ThrowsAsync<InvalidFieldException>(() => stores.Students.ListAsync(new PageRequest(0, PageRequest.MaxLimit + 1), Ct));

        Assert.Equal("limit", error.Field);
    }

    [Fact]
    public async Task GetMany_ReturnsKnownStudents_AndLeavesOutUnknownIds()
    {
        await using var stores = await StartAsync();
        await stores.Students.UpsertManyAsync([Row("R1"), Row("R2"), Row("R3")], Ct);
        var r1 = await stores.Students.GetByRollNumberAsync("R1", Ct);
        var r3 = await stores.Students.GetByRollNumberAsync("R3", Ct);

        var found = await stores.Students.GetManyAsync([r3.Id, "000000000000000000000000", r1.Id], Ct);

        Assert.Equal(["R1", "R3"], found.Select(s => s.RollNumber));
    }

    [Fact]
    public async Task ListByBatch_ReturnsOnlyThatBatchsStudents()
    {
        await using var stores = await StartAsync();
        await stores.Students.UpsertManyAsync([Row("R2", batchId: "cse"), Row("R1", batchId: "cse"), Row("R3", batchId: "ece"), Row("R4")], Ct);

        var cse = await stores.Students.ListByBatchAsync("cse", Ct);

        Assert.Equal(["R1", "R2"], cse.Select(s => s.RollNumber));
    }

    [Fact]
    public async Task Get_ThrowsNotFound_WhenTheIdIsUnknown()
    {
        await using var stores = await StartAsync();
        const string unknown = "000000000000000000000000";

        Assert.Equal("student", (await Assert.ThrowsAsync<NotFoundException>(() => stores.Students.GetAsync(unknown, Ct))).Entity);
        Assert.Equal("form", (await Assert.ThrowsAsync<NotFoundException>(() => stores.Forms.GetAsync(unknown, Ct))).Entity);
        Assert.Equal("batch", (await Assert.ThrowsAsync<NotFoundException>(() => stores.Batches.GetAsync(unknown, Ct))).Entity);
        Assert.Equal("delivery task", (await Assert.ThrowsAsync<NotFoundException>(() => stores.DeliveryLog.GetAsync("task-none", Ct))).Entity);
    }

    // Forms and submissions

    [Fact]
    public async Task Form_RoundTripsItsFields_WhenReadBack()
    {
        await using var stores = await StartAsync();

        var created = await stores.Forms.CreateAsync(new NewForm("Feedback", true, [new FormField("q1", "How was it?", "text", true), new FormField("q2", "Score", "number")]), Ct);
        var read = await stores.Forms.GetAsync(created.Id, Ct);

        Assert.Equal(created.Title, read.Title);
        Assert.Equal(created.CreatedAt, read.CreatedAt);
        Assert.Equal(created.Fields, read.Fields);
    }

    [Fact]
    public async Task ListActive_LeavesOutInactiveForms()
    {
        await using var stores = await StartAsync();
        await stores.Forms.CreateAsync(new NewForm("Zeta", true, []), Ct);
        await stores.Forms.CreateAsync(new NewForm("Old", false, []), Ct);
        await stores.Forms.CreateAsync(new NewForm("Alpha", true, []), Ct);

        var active = await stores.Forms.ListActiveAsync(Ct);

        Assert.Equal(["Alpha", "Zeta"], active.Select(f => f.Title));
    }

    [Fact]
    public async Task Form_ThrowsDuplicateKey_WhenTheGivenIdExists()
    {
        await using var stores = await StartAsync();
        await stores.Forms.CreateAsync(new NewForm("First", true, [], Id: "form-1"), Ct);

        var error = await Assert.ThrowsAsync<DuplicateKeyException>(() => stores.Forms.CreateAsync(new NewForm("Second", true, [], Id: "form-1"), Ct));

        Assert.Equal("form-1", error.Value);
        Assert.Equal("First", (await stores.Forms.GetAsync("form-1", Ct)).Title);
    }

    [Fact]
    public async Task Submission_ThrowsNotFound_WhenTheFormIsUnknown()
    {
        await using var stores = await StartAsync();

        var error = await Assert.ThrowsAsync<NotFoundException>(() =>
            stores.Submissions.CreateAsync(new NewSubmission("no-such-form", "s1", "R1", new Dictionary<string, string>()), Ct));

        Assert.Equal("form", error.Entity);
        await Assert.ThrowsAsync<NotFoundException>(() => stores.Submissions.GetAnalyticsAsync("no-such-form", Ct));
    }

    [Fact]
    public async Task CreateMany_StoresEverySubmission_WithItsOwnId()
    {
        await using var stores = await StartAsync();
        var form = await stores.Forms.CreateAsync(new NewForm("Feedback", true, []), Ct);
        var other = await stores.Forms.CreateAsync(new NewForm("Other", true, []), Ct);

        var created = await stores.Submissions.CreateManyAsync(
        [
            new NewSubmission(form.Id, "s1", "R1", new Dictionary<string, string> { ["q"] = "one" }),
            new NewSubmission(other.Id, "s2", "R2", new Dictionary<string, string> { ["q"] = "two" }),
            new NewSubmission(form.Id, "s3", "R3", new Dictionary<string, string> { ["q"] = "three" }),
        ], Ct);

        Assert.Equal(["R1", "R2", "R3"], created.Select(s => s.RollNumber));
        Assert.Equal(3, created.Select(s => s.Id).Distinct().Count());
        var stored = await stores.Submissions.ListByFormAsync(form.Id, new PageRequest(0, 10), Ct);
        Assert.Equal(new[] { created[0].Id, created[2].Id }.Order(), stored.Items.Select(s => s.Id).Order());
        Assert.Equal("two", (await stores.Submissions.ListByFormAsync(other.Id, new PageRequest(0, 10), Ct)).Items.Single().Answers["q"]);
        var one = await stores.Submissions.GetAsync(created[1].Id, Ct);
        Assert.Equal((other.Id, "s2", "R2", "two"), (one.FormId, one.StudentId, one.RollNumber, one.Answers["q"]));
        await Assert.ThrowsAsync<NotFoundException>(() => stores.Submissions.GetAsync("no-such-submission", Ct));
    }

    [Fact]
    public async Task CreateMany_StoresNothing_WhenOneFormIsUnknown_OrOneAnswerIsTooLong()
    {
        await using var stores = await StartAsync();
        var form = await stores.Forms.CreateAsync(new NewForm("Feedback", true, []), Ct);
        var fine = new NewSubmission(form.Id, "s1", "R1", new Dictionary<string, string> { ["q"] = "ok" });

        await Assert.ThrowsAsync<NotFoundException>(() => stores.Submissions.CreateManyAsync(
            [fine, new NewSubmission("no-such-form", "s2", "R2", new Dictionary<string, string>())], Ct));
        await Assert.ThrowsAsync<FieldTooLongException>(() => stores.Submissions.CreateManyAsync(
            [fine, new NewSubmission(form.Id, "s2", "R2", new Dictionary<string, string> { ["q"] = new string('x', FieldLimits.AnswerValue + 1) })], Ct));

        Assert.Equal(0, (await stores.Submissions.ListByFormAsync(form.Id, new PageRequest(0, 10), Ct)).Total);
        Assert.Empty(await stores.Submissions.CreateManyAsync([], Ct));
    }

    [Fact]
    public async Task CreateMany_KeepsGivenIds_AndStoresNothing_WhenAGivenIdIsTaken()
    {
        await using var stores = await StartAsync();
        var form = await stores.Forms.CreateAsync(new NewForm("Feedback", true, []), Ct);
        var named = RecordIds.New();
        var none = new Dictionary<string, string>();

        var created = await stores.Submissions.CreateManyAsync([new NewSubmission(form.Id, "s1", "R1", none, Id: named)], Ct);
        var error = await Assert.ThrowsAsync<DuplicateKeyException>(() => stores.Submissions.CreateManyAsync(
            [new NewSubmission(form.Id, "s2", "R2", none), new NewSubmission(form.Id, "s3", "R3", none, Id: named)], Ct));

        Assert.Equal(named, Assert.Single(created).Id);
        Assert.Contains(named, error.Value, StringComparison.Ordinal);
        Assert.Equal(["R1"], (await stores.Submissions.ListByFormAsync(form.Id, new PageRequest(0, 10), Ct)).Items.Select(s => s.RollNumber));
    }

    [Fact]
    public async Task ListByForm_ReturnsThatFormsSubmissionsNewestFirst_WithAnswersIntact()
    {
        await using var stores = await StartAsync();
        var form = await stores.Forms.CreateAsync(new NewForm("Feedback", true, []), Ct);
        var other = await stores.Forms.CreateAsync(new NewForm("Other", true, []), Ct);
        // Keys with '.' and '$' are legal field names in a form; they must survive storage.
        var answers = new Dictionary<string, string> { ["q1"] = "yes", ["a.b"] = "dotted", ["$x"] = "dollar" };
        await stores.Submissions.CreateAsync(new NewSubmission(form.Id, "s1", "R1", answers, SubmittedAt: s_day), Ct);
        await stores.Submissions.CreateAsync(new NewSubmission(form.Id, "s2", "R2", answers, SubmittedAt: s_day.AddHours(1)), Ct);
        await stores.Submissions.CreateAsync(new NewSubmission(other.Id, "s3", "R3", answers, SubmittedAt: s_day), Ct);

        var page = await stores.Submissions.ListByFormAsync(form.Id, new PageRequest(0, 10), Ct);

        Assert.Equal(2, page.Total);
        Assert.Equal(["R2", "R1"], page.Items.Select(s => s.RollNumber));
        Assert.Equal(answers.OrderBy(a => a.Key), page.Items[0].Answers.OrderBy(a => a.Key));
        Assert.Equal(s_day.AddHours(1), page.Items[0].SubmittedAt);
    }

    [Fact]
    public async Task Analytics_CountsSubmissionsPerUtcDayAndPerStatus()
    {
        await using var stores = await StartAsync();
        var form = await stores.Forms.CreateAsync(new NewForm("Feedback", true, []), Ct);
        var none = new Dictionary<string, string>();
        // 23:30 and 00:30 UTC fall on different days.
        await stores.Submissions.CreateAsync(new NewSubmission(form.Id, "s1", "R1", none, "submitted", s_midnight.AddHours(23.5)), Ct);
        await stores.Submissions.CreateAsync(new NewSubmission(form.Id, "s2", "R2", none, "reviewed", s_midnight.AddHours(24.5)), Ct);
        await stores.Submissions.CreateAsync(new NewSubmission(form.Id, "s3", "R3", none, "submitted", s_midnight.AddHours(30)), Ct);
        await stores.Submissions.CreateAsync(new NewSubmission(form.Id, "s4", "R4", none, "submitted", s_midnight.AddHours(12)), Ct);

        var analytics = await stores.Submissions.GetAnalyticsAsync(form.Id, Ct);

        Assert.Equal(4, analytics.Total);
        var firstDay = DateOnly.FromDateTime(s_midnight.UtcDateTime);
        Assert.Equal([new DailyCount(firstDay, 2), new DailyCount(firstDay.AddDays(1), 2)], analytics.PerDay);
        Assert.Equal(3, analytics.PerStatus["submitted"]);
        Assert.Equal(1, analytics.PerStatus["reviewed"]);
    }

    // Batches

    [Fact]
    public async Task Batch_ThrowsDuplicateKey_WhenTheNameIsTaken()
    {
        await using var stores = await StartAsync();
        await stores.Batches.CreateAsync(new NewBatch("CSE 2026"), Ct);

        var error = await Assert.ThrowsAsync<DuplicateKeyException>(() => stores.Batches.CreateAsync(new NewBatch("CSE 2026"), Ct));

        Assert.Equal("name", error.Key);
        Assert.Equal(1, (await stores.Batches.ListAsync(new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task AddStudents_KeepsTheOrderAdded_AndIgnoresStudentsAlreadyIn()
    {
        await using var stores = await StartAsync();
        await stores.Students.UpsertManyAsync([Row("R1"), Row("R2"), Row("R3")], Ct);
        var ids = (await stores.Students.ListAsync(new PageRequest(), Ct)).Items.Select(s => s.Id).ToList();
        var batch = await stores.Batches.CreateAsync(new NewBatch("CSE", [ids[2], ids[0]]), Ct);

        var updated = await stores.Batches.AddStudentsAsync(batch.Id, [ids[0], ids[1]], Ct);

        Assert.Equal([ids[2], ids[0], ids[1]], updated.StudentIds);
        Assert.Equal(updated.StudentIds, (await stores.Batches.GetAsync(batch.Id, Ct)).StudentIds);
    }

    [Fact]
    public async Task AddStudents_AddsNothing_WhenOneStudentIsUnknown()
    {
        await using var stores = await StartAsync();
        await stores.Students.UpsertManyAsync([Row("R1")], Ct);
        var known = (await stores.Students.GetByRollNumberAsync("R1", Ct)).Id;
        var batch = await stores.Batches.CreateAsync(new NewBatch("CSE"), Ct);

        var error = await Assert.ThrowsAsync<NotFoundException>(() => stores.Batches.AddStudentsAsync(batch.Id, [known, "000000000000000000000000"], Ct));
        var unknownBatch = await Assert.ThrowsAsync<NotFoundException>(() => stores.Batches.AddStudentsAsync("000000000000000000000001", [known], Ct));

        Assert.Equal("student", error.Entity);
        Assert.Equal("batch", unknownBatch.Entity);
        Assert.Empty((await stores.Batches.GetAsync(batch.Id, Ct)).StudentIds);
    }

    [Fact]
    public async Task ListBatches_ReturnsNewestFirst_WithTheirStudents()
    {
        await using var stores = await StartAsync();
        await stores.Students.UpsertManyAsync([Row("R1")], Ct);
        var student = (await stores.Students.GetByRollNumberAsync("R1", Ct)).Id;
        await stores.Batches.CreateAsync(new NewBatch("First", [student]), Ct);
        await Task.Delay(5, Ct);
        await stores.Batches.CreateAsync(new NewBatch("Second"), Ct);

        var page = await stores.Batches.ListAsync(new PageRequest(), Ct);

        Assert.Equal(["Second", "First"], page.Items.Select(b => b.Name));
        Assert.Equal([student], page.Items[1].StudentIds);
    }

    // Delivery log

    private static DeliveryEvent Event(string taskId, DeliveryStatus status, DateTimeOffset at, string recipient = "+919876543210", string? batchId = null) =>
        new(taskId, status, at, NotificationType.Sms, recipient) { BatchId = batchId };

    [Fact]
    public async Task Append_BuildsTheTimeline_AndTheLatestState()
    {
        await using var stores = await StartAsync();
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Queued, s_day, batchId: "b1") with { StudentId = "s1", SubmissionId = "sub1" }, Ct);
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Sending, s_day.AddSeconds(1)) with { Attempt = 1, Provider = "bulksms" }, Ct);
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Retrying, s_day.AddSeconds(2)) with { Attempt = 1, Error = "HTTP 503" }, Ct);
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Sent, s_day.AddSeconds(20)) with { Attempt = 2, Provider = "bulksms", ProviderMessageId = "m-42" }, Ct);

        var record = await stores.DeliveryLog.GetAsync("t1", Ct);

        Assert.Equal(DeliveryStatus.Sent, record.Status);
        Assert.Equal(2, record.Attempts);
        // Sent at last: the record shows the success; the failure on the way stays in the timeline.
        Assert.Equal(("bulksms", "m-42", (string?)null), (record.Provider, record.ProviderMessageId, record.LastError));
        Assert.Equal(("b1", "sub1", "s1"), (record.BatchId, record.SubmissionId, record.StudentId));
        Assert.Equal((s_day, s_day.AddSeconds(20)), (record.CreatedAt, record.UpdatedAt));
        Assert.Equal([DeliveryStatus.Queued, DeliveryStatus.Sending, DeliveryStatus.Retrying, DeliveryStatus.Sent], record.Timeline.Select(e => e.Status));
        Assert.Equal("HTTP 503", record.Timeline[2].Error);
    }

    [Fact]
    public async Task Append_KeepsTheNewerStatus_WhenAnOlderEventArrivesLate()
    {
        await using var stores = await StartAsync();
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Sent, s_day.AddSeconds(5)) with { ProviderMessageId = "m-1" }, Ct);
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Queued, s_day), Ct);

        var record = await stores.DeliveryLog.GetAsync("t1", Ct);

        Assert.Equal(DeliveryStatus.Sent, record.Status);
        Assert.Equal("m-1", record.ProviderMessageId);
        Assert.Equal((s_day, s_day.AddSeconds(5)), (record.CreatedAt, record.UpdatedAt));
        Assert.Equal([DeliveryStatus.Queued, DeliveryStatus.Sent], record.Timeline.Select(e => e.Status));
    }

    [Fact]
    public async Task Append_ShowsTheSuccess_NotTheOldError_WhenARetriedDeadLetterIsSent()
    {
        await using var stores = await StartAsync();
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Dead, s_day) with { Error = "BulkSMS 400: invalid request" }, Ct);
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Sent, s_day.AddHours(1)) with { ProviderMessageId = "m-2" }, Ct);
        // A late error of an older attempt does not bring the failure back.
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Retrying, s_day.AddMinutes(30)) with { Error = "timeout" }, Ct);

        var record = await stores.DeliveryLog.GetAsync("t1", Ct);

        Assert.Equal((DeliveryStatus.Sent, (string?)null, "m-2"), (record.Status, record.LastError, record.ProviderMessageId));
        Assert.Equal("BulkSMS 400: invalid request", record.Timeline.First().Error);
    }

    [Fact]
    public async Task Append_StoresTextVerbatim_WhenItLooksLikeAnOperatorOrFieldPath()
    {
        await using var stores = await StartAsync();
        const string error = "$status: provider said {\"$gt\": 1}";

        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Dead, s_day) with { Error = error, Provider = "$provider" }, Ct);

        var record = await stores.DeliveryLog.GetAsync("t1", Ct);
        Assert.Equal((error, "$provider", DeliveryStatus.Dead), (record.LastError, record.Provider, record.Status));
    }

    [Fact]
    public async Task AppendMany_AppliesOneBatchInItsOrder_AndKeepsEveryCharacter()
    {
        await using var stores = await StartAsync();
        const string error = "line 1\nline 2: \"quoted\" \\ back-slash, <b>tag</b>, ü, 😀";

        // A whole life in one call, an older event last, and a second task with text that must survive the batch's JSON.
        await stores.DeliveryLog.AppendManyAsync(
        [
            Event("t1", DeliveryStatus.Queued, s_day, batchId: "b1"),
            Event("t1", DeliveryStatus.Sending, s_day.AddSeconds(1)) with { Attempt = 1 },
            Event("t2", DeliveryStatus.Dead, s_day.AddSeconds(2), recipient: "ana+ü@example.org") with { Error = error, Attempt = 3 },
            Event("t1", DeliveryStatus.Sent, s_day.AddSeconds(3)) with { Attempt = 1, ProviderMessageId = "m-1" },
            Event("t1", DeliveryStatus.Queued, s_day.AddMilliseconds(-5)),
        ], Ct);

        var first = await stores.DeliveryLog.GetAsync("t1", Ct);
        Assert.Equal((DeliveryStatus.Sent, "m-1", "b1"), (first.Status, first.ProviderMessageId, first.BatchId));
        Assert.Equal((s_day.AddMilliseconds(-5), s_day.AddSeconds(3)), (first.CreatedAt, first.UpdatedAt));
        Assert.Equal([DeliveryStatus.Queued, DeliveryStatus.Queued, DeliveryStatus.Sending, DeliveryStatus.Sent], first.Timeline.Select(e => e.Status));
        var second = await stores.DeliveryLog.GetAsync("t2", Ct);
        Assert.Equal((error, "ana+ü@example.org", 3), (second.LastError, second.Recipient, second.Attempts));
        Assert.Equal(error, second.Timeline.Single().Error);
    }

    [Fact]
    public async Task Append_CutsTheError_WhenItIsLongerThanTheLimit()
    {
        await using var stores = await StartAsync();

        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Retrying, s_day) with { Error = new string('e', FieldLimits.LastError + 500) }, Ct);

        Assert.Equal(FieldLimits.LastError, (await stores.DeliveryLog.GetAsync("t1", Ct)).LastError!.Length);
    }

    [Fact]
    public async Task Append_KeepsTheWorkersStatus_WhenAQueuedEventOfTheSameInstantIsWrittenAfterIt()
    {
        await using var stores = await StartAsync();
        // The Api's background Queued write lands after the worker's Sending, both stamped in the same millisecond.
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Sending, s_day) with { Attempt = 1 }, Ct);
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Queued, s_day), Ct);
        // Any other event of the same instant written later still wins.
        await stores.DeliveryLog.AppendAsync(Event("t2", DeliveryStatus.Sending, s_day) with { Attempt = 1 }, Ct);
        await stores.DeliveryLog.AppendAsync(Event("t2", DeliveryStatus.Sent, s_day) with { Attempt = 1 }, Ct);

        Assert.Equal(DeliveryStatus.Sending, (await stores.DeliveryLog.GetAsync("t1", Ct)).Status);
        Assert.Equal(2, (await stores.DeliveryLog.GetAsync("t1", Ct)).Timeline.Count);
        Assert.Equal(DeliveryStatus.Sent, (await stores.DeliveryLog.GetAsync("t2", Ct)).Status);
    }

    [Fact]
    public async Task Append_KeepsEveryEvent_WhenManyAppendsRaceOnOneTask()
    {
        await using var stores = await StartAsync();
        const int appends = 64;

        await Parallel.ForEachAsync(Enumerable.Range(1, appends), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Ct }, async (i, ct) =>
            await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Sending, s_day.AddMilliseconds(i)) with { Attempt = i }, ct));

        var record = await stores.DeliveryLog.GetAsync("t1", Ct);
        Assert.Equal(Enumerable.Range(1, appends), record.Timeline.Select(e => e.Attempt));
        Assert.Equal(appends, record.Attempts);
        Assert.Equal(s_day.AddMilliseconds(appends), record.UpdatedAt);
    }

    [Fact]
    public async Task Query_FiltersByRecipientBatchStudentStatusAndTimeRange_NewestFirst()
    {
        await using var stores = await StartAsync();
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Queued, s_day, "a@example.org", "b1"), Ct);
        await stores.DeliveryLog.AppendAsync(Event("t2", DeliveryStatus.Queued, s_day.AddMinutes(1), "a@example.org", "b1"), Ct);
        await stores.DeliveryLog.AppendAsync(Event("t3", DeliveryStatus.Queued, s_day.AddMinutes(2), "a@example.org", "b2") with { StudentId = "s3" }, Ct);
        await stores.DeliveryLog.AppendAsync(Event("t4", DeliveryStatus.Queued, s_day.AddMinutes(3), "b@example.org", "b1"), Ct);
        await stores.DeliveryLog.AppendAsync(Event("t2", DeliveryStatus.Dead, s_day.AddMinutes(9)), Ct);

        async Task<string[]> TaskIds(DeliveryQuery query, PageRequest? page = null) =>
            [.. (await stores.DeliveryLog.QueryAsync(query, page ?? new PageRequest(), Ct)).Items.Select(r => r.TaskId)];

        Assert.Equal(["t4", "t3", "t2", "t1"], await TaskIds(new DeliveryQuery()));
        Assert.Equal(["t3", "t2", "t1"], await TaskIds(new DeliveryQuery { Recipient = "a@example.org" }));
        Assert.Equal(["t2", "t1"], await TaskIds(new DeliveryQuery { Recipient = "a@example.org", BatchId = "b1" }));
        Assert.Equal(["t3"], await TaskIds(new DeliveryQuery { Recipient = "a@example.org", StudentId = "s3" }));
        Assert.Equal(["t2"], await TaskIds(new DeliveryQuery { Status = DeliveryStatus.Dead }));
        Assert.Equal(["t3", "t2"], await TaskIds(new DeliveryQuery { From = s_day.AddMinutes(1), To = s_day.AddMinutes(3) }));
        Assert.Equal(["t3"], await TaskIds(new DeliveryQuery(), new PageRequest(1, 1)));
        Assert.Equal(4, (await stores.DeliveryLog.QueryAsync(new DeliveryQuery(), new PageRequest(1, 1), Ct)).Total);
        Assert.Single((await stores.DeliveryLog.QueryAsync(new DeliveryQuery { Status = DeliveryStatus.Dead }, new PageRequest(), Ct)).Items[0].Timeline,
            e => e.Status == DeliveryStatus.Dead);
    }

    [Fact]
    public async Task BatchProgress_CountsTheBatchsTasksByLatestStatus()
    {
        await using var stores = await StartAsync();
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Queued, s_day, batchId: "b1"), Ct);
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Sent, s_day.AddSeconds(1)), Ct);
        await stores.DeliveryLog.AppendAsync(Event("t2", DeliveryStatus.Queued, s_day, batchId: "b1"), Ct);
        await stores.DeliveryLog.AppendAsync(Event("t3", DeliveryStatus.Dead, s_day, batchId: "b1"), Ct);
        await stores.DeliveryLog.AppendAsync(Event("t4", DeliveryStatus.Sent, s_day, batchId: "b2"), Ct);

        var progress = await stores.DeliveryLog.GetBatchProgressAsync("b1", Ct);

        Assert.Equal(3, progress.Total);
        Assert.Equal(
            new Dictionary<DeliveryStatus, long>
            {
                [DeliveryStatus.Queued] = 1, [DeliveryStatus.Sending] = 0, [DeliveryStatus.Sent] = 1, [DeliveryStatus.Retrying] = 0, [DeliveryStatus.Dead] = 1,
                [DeliveryStatus.Delivered] = 0, [DeliveryStatus.Undelivered] = 0, [DeliveryStatus.Bounced] = 0, [DeliveryStatus.Complained] = 0,
                [DeliveryStatus.Suppressed] = 0,
            },
            progress.ByStatus);
    }

    // The transactional outbox

    [Fact]
    public async Task Upsert_StoresAWelcomeForEachStudentItCreates_NotForThoseItUpdates_EachLoggedQueued()
    {
        await using var stores = await StartAsync();
        var first = await stores.Students.UpsertManyAsync([Row("R1")], Welcome, Ct);

        var second = await stores.Students.UpsertManyAsync([Row("R1", "Changed"), Row("R2")], Welcome, Ct);

        Assert.Equal((1, 1), (first.NotificationsStored, second.NotificationsStored));
        var tasks = await OutboxTasksAsync(stores);
        var students = (await stores.Students.ListAsync(new PageRequest(), Ct)).Items;
        // Each for the student it was built for, with that student's id (MongoDB orders the same millisecond by id, not by commit).
        Assert.Equal(["welcome:R1:sms", "welcome:R2:sms"], tasks.Select(t => t.IdempotencyKey).Order());
        Assert.Equal(students.Select(s => s.Id).Order(), tasks.Select(t => t.Correlation!.StudentId).Order());
        foreach (var task in tasks)
        {
            var record = await stores.DeliveryLog.GetAsync(task.Id, Ct);
            Assert.Equal((DeliveryStatus.Queued, task.Correlation!.StudentId), (record.Status, record.StudentId));
        }
        Assert.Equal(2, await stores.Outbox.CountAsync(Ct));
    }

    [Fact]
    public async Task Upsert_StoresNeitherStudentsNorWelcomes_WhenBuildingAWelcomeFails()
    {
        await using var stores = await StartAsync();
        var built = 0;
        IReadOnlyList<PreparedTask> FailOnSecond(Student student) =>
            ++built == 2 ? throw new InvalidNotificationException("An SMS needs a phone number.") : Welcome(student);

        await Assert.ThrowsAsync<InvalidNotificationException>(() => stores.Students.UpsertManyAsync([Row("R1"), Row("R2")], FailOnSecond, Ct));

        Assert.Equal(0, (await stores.Students.ListAsync(new PageRequest(), Ct)).Total);
        Assert.Equal(0, await stores.Outbox.CountAsync(Ct));
        Assert.Equal(0, (await stores.DeliveryLog.QueryAsync(new DeliveryQuery(), new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task Submission_StoresItsConfirmationWithIt_AndNeitherWhenItsIdIsTaken()
    {
        await using var stores = await StartAsync();
        var form = await stores.Forms.CreateAsync(new NewForm("Feedback", true, []), Ct);
        var id = RecordIds.New();
        NewSubmission Submission() => new(form.Id, "s1", "R1", new Dictionary<string, string>(), Id: id)
        {
            Notifications = s_tasks.PrepareAll([NotificationRequest.Sms("+919876543210", "Thanks") with { IdempotencyKey = $"submission:{id}:sms" }]),
        };
        var stored = Submission();

        await stores.Submissions.CreateAsync(stored, Ct);
        await Assert.ThrowsAsync<DuplicateKeyException>(() => stores.Submissions.CreateAsync(Submission(), Ct));

        Assert.Equal([stored.Notifications[0].Task.Id], (await OutboxTasksAsync(stores)).Select(t => t.Id));
        Assert.Equal(1, (await stores.DeliveryLog.QueryAsync(new DeliveryQuery(), new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task Batches_StoreANoticeForEachStudentTheyAdd_NotForThoseAlreadyIn()
    {
        await using var stores = await StartAsync();
        await stores.Students.UpsertManyAsync([Row("R1"), Row("R2"), Row("R3")], Ct);
        var ids = (await stores.Students.ListAsync(new PageRequest(), Ct)).Items.Select(s => s.Id).ToList();
        IReadOnlyList<PreparedTask> Notice(BatchMember member) => s_tasks.PrepareAll([NotificationRequest.Sms(member.Student.Phone, "Joined " + member.Batch.Name) with
        {
            IdempotencyKey = $"batch:{member.Batch.Id}:{member.Student.Id}:sms", Correlation = new Correlation { BatchId = member.Batch.Id, StudentId = member.Student.Id },
        }]);

        var created = await stores.Batches.CreateAsync(new NewBatch("CSE", [ids[0]]), Notice, Ct);
        var added = await stores.Batches.AddStudentsAsync(created.Batch.Id, [ids[0], ids[1], ids[2]], Notice, Ct);

        Assert.Equal([ids[0]], created.AddedStudentIds);
        Assert.Single(created.NotificationIds);
        Assert.Equal(new[] { ids[1], ids[2] }.Order(), added.AddedStudentIds.Order());
        var tasks = await OutboxTasksAsync(stores);
        Assert.Equal(created.NotificationIds.Concat(added.NotificationIds).Order(), tasks.Select(t => t.Id).Order());
        Assert.Equal(ids.Order(), tasks.Select(t => t.Correlation!.StudentId!).Order());
        Assert.Equal(3, (await stores.DeliveryLog.GetBatchProgressAsync(created.Batch.Id, Ct)).ByStatus[DeliveryStatus.Queued]);
    }

    [Fact]
    public async Task Outbox_ReadsOldestFirst_AndRemovesOnlyTheEntriesItIsGiven()
    {
        await using var stores = await StartAsync();
        await stores.Students.UpsertManyAsync([Row("R1"), Row("R2"), Row("R3")], Welcome, Ct);
        var entries = await stores.Outbox.ReadOldestAsync(2, Ct);

        await stores.Outbox.RemoveAsync([entries[0].TaskId, "01JNOTANENTRY0000000000000"], Ct);

        Assert.Equal(2, entries.Count);
        var left = await stores.Outbox.ReadOldestAsync(10, Ct);
        Assert.Equal(entries[1].TaskId, left[0].TaskId);
        Assert.Equal(2, await stores.Outbox.CountAsync(Ct));
        Assert.Equal(entries[1].Body, left[0].Body);
    }
}

public sealed class SqliteStoreContractTests : StoreContractTests
{
    private protected override Task<StoreHarness> StartAsync() => StoreHarness.StartSqliteAsync();
}

public sealed class MongoStoreContractTests : StoreContractTests
{
    private protected override Task<StoreHarness> StartAsync()
    {
        var uri = Environment.GetEnvironmentVariable(StoreHarness.MongoUriVariable);
        Assert.SkipWhen(string.IsNullOrWhiteSpace(uri), $"{StoreHarness.MongoUriVariable} is not set: no MongoDB server to run the store contract against.");
        return StoreHarness.StartMongoAsync(uri);
    }
}
