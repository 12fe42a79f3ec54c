using System.Diagnostics;
using Notifications.Queue;
using Notifications.Tests.Infrastructure;
using QueueCrashWorker;

namespace Notifications.Tests.Queue;

/// <summary>A consumer process killed with SIGKILL loses nothing, and no task is sent twice.</summary>
public sealed class ConsumerCrashTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task KilledConsumer_HoldingAThousandLeases_IsFinishedByAnother_NoneLostNoneTwice()
    {
        await using var harness = new QueueHarness(fixture.Connection, o =>
        {
            o.LeaseDuration = TimeSpan.FromSeconds(2);
            o.Concurrency = 200;
            o.Prefetch = 200;
        });
        var queued = await harness.Queue.EnqueueManyAsync([.. Enumerable.Range(0, 3_000).Select(i => QueueHarness.Sms(i))], TestContext.Current.CancellationToken);

        // 1,200 at once, so that the leases it holds stay above 1,000 while it acknowledges some between our look and the kill.
        using var victim = StartCrashWorker(fixture.Server.Endpoint, harness.Options.Name, concurrency: 1_200, sendMs: 300);
        try
        {
            await QueueHarness.WaitUntilAsync(async () =>
            {
                var stats = await harness.Monitor.GetStatsAsync();
                return stats.Leased >= 1_100 && stats.Counters.Processed > 0;
            }, TimeSpan.FromSeconds(60), "the worker holds 1,100 leases and has finished some tasks");
        }
        finally
        {
            victim.Kill(entireProcessTree: true); // SIGKILL: no shutdown, no release
            await victim.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
        var atKill = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.True(atKill.Leased >= 1_000, $"{atKill.Leased} tasks were leased when the worker died");

        var survivor = new RecordingSendHandler(harness.Db, harness.Keys, TimeSpan.Zero);
        harness.Start(survivor);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 3_000,
            TimeSpan.FromSeconds(60), "every task is completed");

        var sends = await harness.Db.HashGetAllAsync(RecordingSendHandler.SendsKey(harness.Keys));
        Assert.Equal(queued.Select(q => q.TaskId).Order(), sends.Select(s => (string)s.Name!).Order());
        Assert.All(sends, send => Assert.Equal(1, (int)send.Value));
        var final = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, final.Pending + final.Leased + final.Scheduled + final.Dead);
        Assert.True(final.Counters.Recovered >= 1_000);
    }

    private static Process StartCrashWorker(string endpoint, string queue, int concurrency, int sendMs)
    {
        var worker = Path.Combine(AppContext.BaseDirectory, "QueueCrashWorker.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { worker, endpoint, queue, concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture), sendMs.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("The crash worker did not start.");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
