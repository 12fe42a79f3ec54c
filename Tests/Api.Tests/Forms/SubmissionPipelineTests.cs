using Api.Forms;
using Api.Hosting;
using Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;

namespace Api.Tests.Forms;

/// <summary>
/// The pipeline on its own, against the host's real SQLite store and redis-server. Submissions are handed
/// in before its loop starts, so they are one batch for certain.
/// </summary>
public sealed class SubmissionPipelineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ABatch_IsStoredAndQueuedTogether_AndOnlyTheSubmissionWithBadInputFails()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var pipeline = ActivatorUtilities.CreateInstance<SubmissionPipeline>(host.Services);

        var submitted = Enumerable.Range(0, 20).Select(i => pipeline.SubmitAsync(new SubmissionWork(form, student,
            new Dictionary<string, string> { ["comment"] = i == 7 ? new string('x', FieldLimits.AnswerValue + 1) : $"c{i}" }, null), Ct)).ToList();
        await pipeline.StartAsync(Ct);
        try
        {
            var error = await Assert.ThrowsAsync<FieldTooLongException>(() => submitted[7]);
            Assert.Equal("answers.comment", error.Field);
            var receipts = await Task.WhenAll(submitted.Where((_, i) => i != 7));

            var stored = await host.Service<IFormSubmissionStore>().ListByFormAsync(form.Id, new PageRequest(0, 100), Ct);
            Assert.Equal(receipts.Select(r => r.SubmissionId).Order(), stored.Items.Select(s => s.Id).Order());
            Assert.Equal(38, (await host.QueueStatsAsync()).Pending);
            foreach (var receipt in receipts)
            {
                // Each answer gets its own two tasks, and they name its submission.
                Assert.Equal(2, receipt.Dispatched.TaskIds.Count);
                foreach (var taskId in receipt.Dispatched.TaskIds)
                {
                    var task = TaskJson.Deserialize((byte[])(await host.Multiplexer.GetDatabase().HashGetAsync(host.QueueKeys.Tasks, taskId))!);
                    Assert.Equal(receipt.SubmissionId, task.Correlation?.SubmissionId);
                }
            }
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ASubmissionWhoseConfirmationBreaksTheQueuesRules_FailsAlone_AndIsNotStored()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var pipeline = ActivatorUtilities.CreateInstance<SubmissionPipeline>(host.Services);
        SubmissionWork Work(Student who) => new(form, who, new Dictionary<string, string> { ["comment"] = "ok" }, null);

        var fine = pipeline.SubmitAsync(Work(student), Ct);
        var noAddress = pipeline.SubmitAsync(Work(student with { Email = "" }), Ct);
        var alsoFine = pipeline.SubmitAsync(Work(student), Ct);
        await pipeline.StartAsync(Ct);
        try
        {
            await Assert.ThrowsAsync<InvalidNotificationException>(() => noAddress);
            var receipts = await Task.WhenAll(fine, alsoFine);

            // Stored once each, and only the two: nothing is stored twice when one submission is refused.
            var stored = await host.Service<IFormSubmissionStore>().ListByFormAsync(form.Id, new PageRequest(0, 10), Ct);
            Assert.Equal(receipts.Select(r => r.SubmissionId).Order(), stored.Items.Select(s => s.Id).Order());
            Assert.Equal(4, (await host.QueueStatsAsync()).Pending);
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ASubmissionCancelledBeforeItsBatch_IsNotStored()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var pipeline = ActivatorUtilities.CreateInstance<SubmissionPipeline>(host.Services);
        using var givenUp = new CancellationTokenSource();

        var cancelled = pipeline.SubmitAsync(new SubmissionWork(form, student, new Dictionary<string, string> { ["comment"] = "gone" }, null), givenUp.Token);
        var kept = pipeline.SubmitAsync(new SubmissionWork(form, student, new Dictionary<string, string> { ["comment"] = "kept" }, null), Ct);
        await givenUp.CancelAsync();
        await pipeline.StartAsync(Ct);
        try
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
            var receipt = await kept;

            var stored = await host.Service<IFormSubmissionStore>().ListByFormAsync(form.Id, new PageRequest(0, 10), Ct);
            Assert.Equal(receipt.SubmissionId, Assert.Single(stored.Items).Id);
            Assert.Equal(2, (await host.QueueStatsAsync()).Pending);
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Stopping_FinishesTheSubmissionsAlreadyAccepted_AndRefusesNewOnes()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var pipeline = ActivatorUtilities.CreateInstance<SubmissionPipeline>(host.Services);
        SubmissionWork Work(string comment) => new(form, student, new Dictionary<string, string> { ["comment"] = comment }, null);

        var accepted = Enumerable.Range(0, 5).Select(i => pipeline.SubmitAsync(Work($"c{i}"), Ct)).ToList();
        await pipeline.StartAsync(Ct);
        await pipeline.StopAsync(CancellationToken.None);

        Assert.Equal(5, (await Task.WhenAll(accepted)).Length);
        // Refused at the door, before any task exists: the endpoint answers at once.
        Assert.Throws<ShuttingDownException>(() => { _ = pipeline.SubmitAsync(Work("late"), Ct); });
        Assert.Equal(5, (await host.Service<IFormSubmissionStore>().ListByFormAsync(form.Id, new PageRequest(0, 10), Ct)).Total);
    }
}
