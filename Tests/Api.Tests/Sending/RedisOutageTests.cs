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
        // Every answer names its confirmation's two tasks, stored in the outbox with the submission.
        Assert.All(accepted, a => Assert.Equal(2, a.NotificationIds.Count));
        Assert.Equal(submissions * 2, await host.Service<INotificationOutbox>().CountAsync(Ct));
        var health = JsonDocument.Parse(await host.Anonymous().GetStringAsync("/health", Ct)).RootElement;
        Assert.Equal("Degraded", health.GetProperty("status").GetString());
        // The status URL of an answer opens at once, from the delivery log: the task is Queued.
        var waiting = await ApiTestHost.ReadAsync<DeliveryRecord>(await host.Student(student.Id).GetAsync(accepted.First().StatusUrl, Ct));
        Assert.Equal(DeliveryStatus.Queued, waiting.Status);
        // An unknown task is still a plain 404, not a failed queue lookup.
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/notifications/01JUNKNOWNTASK", Ct), HttpStatusCode.NotFound);

        await host.RestartRedisAsync();
        await host.WaitForOutboxMovedAsync();

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

        var queued = await host.Service<IDeliveryLog>().QueryAsync(new DeliveryQuery { Status = DeliveryStatus.Queued }, new PageRequest(0, 1), Ct);
        Assert.Equal(submissions * 2, queued.Total);
        health = JsonDocument.Parse(await host.Anonymous().GetStringAsync("/health", Ct)).RootElement;
        Assert.Equal("Healthy", health.GetProperty("status").GetString());

        // The student's own SMS list (the status URL of a retry whose first answer was lost) has every confirmation.
        var own = await ApiTestHost.ReadAsync<PagedList<DeliveryRecord>>(
            await host.Student(student.Id).GetAsync($"/api/notifications?recipient={Uri.EscapeDataString(student.Phone)}", Ct));
        Assert.Equal(submissions, own.Total);
        Assert.All(own.Items, r => Assert.Equal(student.Id, r.StudentId));
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
