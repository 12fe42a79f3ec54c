using System.Diagnostics;
using System.Globalization;
using Notifications.Queue;
using Notifications.Tests.Infrastructure;
using QueueCrashWorker;

namespace Notifications.Tests.Queue;

/// <summary>A consumer process killed with SIGKILL loses nothing, and no task is sent twice.</summary>
public sealed class ConsumerCrashTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const int Tasks = 3_000;
    private const int VictimSlots = 1_000;
    private const int CompletedByVictim = 200;
    private const int SentButNotAcknowledged = 300;

    [Fact]
    public async Task KilledConsumer_HoldingAThousandLeases_IsFinishedByAnother_NoneLostNoneTwice()
    {
        var cancellation = TestContext.Current.CancellationToken;
        await using var harness = new QueueHarness(fixture.Connection, o =>
        {
            o.Concurrency = 200;
            o.Prefetch = 200;
        });
        var queued = await harness.Queue.EnqueueManyAsync([.. Enumerable.Range(0, Tasks).Select(i => QueueHarness.Sms(i))], cancellation);

        // The victim finishes 200 tasks, sends 300 more without acknowledging them, and holds the rest
        // of its slots without sending. Its handlers then never return, so the queue stops changing:
        // the kill happens in a known state, whatever the machine's speed.
        using var victim = StartCrashWorker(fixture.Server.Endpoint, harness.Options.Name, VictimSlots, CompletedByVictim, SentButNotAcknowledged);
        try
        {
            await QueueHarness.WaitUntilAsync(async () =>
            {
                var stats = await harness.Monitor.GetStatsAsync();
                var arrivals = (long)await harness.Db.StringGetAsync(HoldingSendHandler.ArrivalsKey(harness.Keys));
                return stats.Counters.Processed == CompletedByVictim && stats.Leased == VictimSlots && arrivals == CompletedByVictim + VictimSlots;
            }, TimeSpan.FromSeconds(120), "the worker has finished 200 tasks and holds 1,000 leases in its handlers");
        }
        finally
        {
            victim.Kill(entireProcessTree: true); // SIGKILL: no shutdown, no release
            await victim.WaitForExitAsync(cancellation);
        }
        var atKill = await harness.Monitor.GetStatsAsync(cancellation);
        Assert.Equal(VictimSlots, atKill.Leased);
        Assert.Equal(CompletedByVictim + SentButNotAcknowledged, await harness.Db.HashLengthAsync(RecordingSendHandler.SendsKey(harness.Keys)));

        harness.Start(new RecordingSendHandler(harness.Db, harness.Keys));
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == Tasks,
            TimeSpan.FromSeconds(120), "every task is completed");

        // Every task was sent exactly once: the 300 the victim sent arrive at the survivor flagged as sent.
        var sends = await harness.Db.HashGetAllAsync(RecordingSendHandler.SendsKey(harness.Keys));
        Assert.Equal(queued.Select(q => q.TaskId).Order(), sends.Select(s => (string)s.Name!).Order());
        Assert.All(sends, send => Assert.Equal(1, (int)send.Value));
        var final = await harness.Monitor.GetStatsAsync(cancellation);
        Assert.Equal(0, final.Pending + final.Leased + final.Scheduled + final.Dead);
        Assert.True(final.Counters.Recovered >= VictimSlots, $"{final.Counters.Recovered} leases were recovered");
    }

    private static Process StartCrashWorker(string endpoint, string queue, params int[] numbers)
    {
        var worker = Path.Combine(AppContext.BaseDirectory, "QueueCrashWorker.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(worker);
        info.ArgumentList.Add(endpoint);
        info.ArgumentList.Add(queue);
        foreach (var number in numbers)
        {
            info.ArgumentList.Add(number.ToString(CultureInfo.InvariantCulture));
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("The crash worker did not start.");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
