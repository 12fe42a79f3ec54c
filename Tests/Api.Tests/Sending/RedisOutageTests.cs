using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Api.Forms;
using Api.Sending;
using Api.Students;
using Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Notifications.Queue;
using Notifications.Stores;
using StackExchange.Redis;

namespace Api.Tests.Sending;

public sealed class RedisOutageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Submissions_AreAcceptedWhileRedisIsDown_AndDeliveredOnceWhenItIsBack()
    {
        const int submissions = 500;
        await using var host = await ApiTestHost.StartAsync(appendOnly: true);
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var client = host.Student(student.Id);

        await host.StopRedisAsync();
        await WaitUntilAsync(() => Task.FromResult(!host.Multiplexer.IsConnected), "the Api to notice Redis is gone");

        var accepted = new ConcurrentBag<SubmissionAccepted>();
        foreach (var chunk in Enumerable.Range(0, submissions).Chunk(50))
        {
            await Task.WhenAll(chunk.Select(async i =>
            {
                var response = await client.PostAsync($"/api/forms/{form.Id}/submissions",
                    ApiTestHost.JsonBody(new { answers = new { comment = $"c{i}" } }), Ct);
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                accepted.Add(await ApiTestHost.ReadAsync<SubmissionAccepted>(response));
            }));
        }
        Assert.All(accepted, a => Assert.True(a.Spooled));
        var spool = host.Service<NotificationSpool>();
        var spooled = await Task.WhenAll(spool.List().Select(file => NotificationSpool.ReadAsync(file, Ct)));
        Assert.Equal(submissions * 2, spooled.Sum(file => file.Count));
        var health = JsonDocument.Parse(await host.Anonymous().GetStringAsync("/health", Ct)).RootElement;
        Assert.Equal("Degraded", health.GetProperty("status").GetString());
        // A spooled notification has no task id yet; asking for an unknown one is still a plain 404, not a failed queue lookup.
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/notifications/01JUNKNOWNTASK", Ct), HttpStatusCode.NotFound);

        await host.RestartRedisAsync();
        await WaitUntilAsync(() => Task.FromResult(spool.FileCount == 0), "the spool to drain");

        // The worker's stand-in: a consumer on its own connection that records every task it is given.
        var delivered = new ConcurrentDictionary<string, int>();
        var handler = new RecordingHandler(delivered);
        await using var workerRedis = await ConnectionMultiplexer.ConnectAsync(host.Redis.Endpoint);
        var options = host.Service<Microsoft.Extensions.Options.IOptions<QueueOptions>>().Value;
        var consumer = new QueueConsumer(workerRedis, options, handler, TimeProvider.System, host.Service<QueueMetrics>(), NullLogger<QueueConsumer>.Instance);
        using var stop = new CancellationTokenSource();
        var running = consumer.RunAsync(stop.Token);
        await WaitUntilAsync(async () => (await host.QueueStatsAsync()).Counters.Processed >= submissions * 2, "every task to be processed");
        await stop.CancelAsync();
        await running;

        Assert.Equal(submissions * 2, delivered.Count);
        Assert.All(delivered, d => Assert.Equal(1, d.Value));
        var ids = accepted.Select(a => a.SubmissionId).ToHashSet();
        Assert.Equal(submissions, ids.Count);
        var stats = await host.QueueStatsAsync();
        Assert.Equal(submissions * 2, stats.Counters.Enqueued);
        Assert.Equal(0, stats.Pending);

        await host.Service<DeliveryLogWriter>().FlushAsync(Ct);
        var queued = await host.Service<IDeliveryLog>().QueryAsync(new DeliveryQuery { Status = DeliveryStatus.Queued }, new PageRequest(0, 1), Ct);
        Assert.Equal(submissions * 2, queued.Total);
        health = JsonDocument.Parse(await host.Anonymous().GetStringAsync("/health", Ct)).RootElement;
        Assert.Equal("Healthy", health.GetProperty("status").GetString());

        // The status URL a spooled submission got (the student's SMS list) opens for that student once drained.
        var statusUrl = accepted.First().StatusUrl;
        var own = await ApiTestHost.ReadAsync<PagedList<DeliveryRecord>>(await host.Student(student.Id).GetAsync(statusUrl, Ct));
        Assert.Equal(submissions, own.Total);
        Assert.All(own.Items, r => Assert.Equal(student.Id, r.StudentId));
    }

    [Fact]
    public async Task Drain_QueuesOnce_WhenTheSameSpoolFileIsDrainedTwice()
    {
        await using var host = await ApiTestHost.StartAsync();
        var spool = host.Service<NotificationSpool>();
        var request = NotificationRequest.Sms("+919876543210", "hello") with { IdempotencyKey = "spool-test:sms" };
        await spool.WriteAsync([request], Ct);
        var file = Assert.Single(spool.List());
        var copy = file + ".copy";
        File.Copy(file, copy);

        await host.Service<SpoolDrainer>().DrainAsync(Ct);
        // A crash after the enqueue and before the delete leaves the file behind: drain it again.
        File.Move(copy, file);
        await host.Service<SpoolDrainer>().DrainAsync(Ct);

        Assert.Empty(spool.List());
        Assert.Equal(1, (await host.QueueStatsAsync()).Counters.Enqueued);
    }

    [Fact]
    public async Task Drain_SkipsAFileTheFileSystemRefuses_AndDrainsTheOthers()
    {
        await using var host = await ApiTestHost.StartAsync();
        var spool = host.Service<NotificationSpool>();
        // A link to nowhere where a spool file should be: opening it fails as a file with the wrong owner would
        // (tests run as root, who may open anything).
        var refused = Path.Combine(spool.Directory, "00000000000000000000000000.json");
        File.CreateSymbolicLink(refused, Path.Combine(spool.Directory, "gone", "missing.json"));
        await spool.WriteAsync([NotificationRequest.Sms("+919876543210", "hello") with { IdempotencyKey = "spool-test:after" }], Ct);

        var drained = await host.Service<SpoolDrainer>().DrainAsync(Ct);

        Assert.Equal(1, drained);
        Assert.Equal(1, (await host.QueueStatsAsync()).Counters.Enqueued);
        Assert.Equal([refused], spool.List());
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(100, Ct);
        }
    }

    private sealed class RecordingHandler(ConcurrentDictionary<string, int> delivered) : INotificationHandler
    {
        public async ValueTask<HandlerResult> HandleAsync(ClaimedTask claimed, CancellationToken cancellationToken)
        {
            // Keyed by what the student would receive twice if it were sent twice.
            delivered.AddOrUpdate(claimed.Task.IdempotencyKey ?? claimed.Task.Id, 1, (_, n) => n + 1);
            await claimed.MarkSentAsync(cancellationToken);
            return HandlerResult.Done;
        }
    }
}
