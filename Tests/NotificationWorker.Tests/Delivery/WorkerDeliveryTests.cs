using System.Diagnostics;
using System.Text.Json;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Notifications.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace NotificationWorker.Tests.Delivery;

/// <summary>The worker end to end: queue in, provider called, delivery log written, queue emptied.</summary>
public sealed class WorkerDeliveryTests : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private const string Accepted = """[{"id":"7001","type":"SENT","status":{"type":"ACCEPTED"}}]""";

    private readonly WireMockServer _bulkSms = WireMockServer.Start();
    private RedisServerProcess _redis = null!;

    public async ValueTask InitializeAsync() => _redis = await RedisServerProcess.StartAsync();

    public async ValueTask DisposeAsync()
    {
        _bulkSms.Stop();
        _bulkSms.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task ProviderOutage_EveryTaskIsDeliveredAfterRecovery_NoneTwice_NoneDeadLettered()
    {
        AnswerSms(503, """{"title":"Service Unavailable"}""");
        await using var worker = WorkerUnderTest.Start(_redis.Endpoint, _bulkSms);
        var queued = await worker.Queue.EnqueueManyAsync([.. Enumerable.Range(0, 20).Select(Sms)], TestContext.Current.CancellationToken);

        // The outage lasts until the circuit has opened and postponed sends, however slow the machine.
        await worker.WaitUntilAsync(s => s.Counters.Postponed > 0, s_wait, "the open circuit postpones sends");
        var callsDuringOutage = _bulkSms.LogEntries.Count();
        AnswerSms(201, Accepted);
        await worker.WaitUntilAsync(s => s.Counters.Processed == 20, s_wait, "all 20 are delivered after recovery");

        var sent = SuccessfulSendsByRecipient();
        Assert.Equal(20, sent.Count);
        Assert.All(sent, recipient => Assert.Equal(1, recipient.Value));
        var stats = await worker.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, stats.Dead);
        Assert.True(stats.Counters.Postponed > 0, "the open circuit postponed sends instead of using up attempts");
        Assert.True(callsDuringOutage < 20 * 4, $"the circuit kept the outage from burning every attempt ({callsDuringOutage} calls)");
        foreach (var task in queued)
        {
            var record = await worker.DeliveryLog.GetAsync(task.TaskId, TestContext.Current.CancellationToken);
            Assert.Equal(DeliveryStatus.Sent, record.Status);
            Assert.Equal("7001", record.ProviderMessageId);
            Assert.Equal("bulksms", record.Provider);
        }
    }

    [Fact]
    public async Task ASuppressedNumber_IsNotSentNorRetried_AndTheNextGoesOnceTheSuppressionIsLifted()
    {
        var ct = TestContext.Current.CancellationToken;
        AnswerSms(201, """[{"id":"7002","type":"SENT","status":{"id":"ACCEPTED.null","type":"ACCEPTED"},"creditCost":1.6,"numberOfParts":2}]""");
        await using var worker = WorkerUnderTest.Start(_redis.Endpoint, _bulkSms);
        var suppressions = worker.Services.GetRequiredService<ISuppressionList>();
        await suppressions.AddAsync(new Suppression(NotificationType.Sms, "+15550000001", "BulkSMS reported FAILED.BLOCKED", DateTimeOffset.UtcNow) { Source = "bulksms" }, ct);

        var blocked = await worker.Queue.EnqueueAsync(Sms(1), ct);
        var other = await worker.Queue.EnqueueAsync(Sms(2), ct);
        await worker.WaitUntilAsync(s => s.Counters.Processed == 2, s_wait, "both tasks are handled");

        // Only the other number reached BulkSMS; the suppressed one is finished, not dead-lettered, not waiting for a retry.
        Assert.Equal(["+15550000002"], SuccessfulSendsByRecipient().Keys);
        var stats = await worker.Monitor.GetStatsAsync(ct);
        Assert.Equal((0L, 0L), (stats.Dead, stats.Pending));
        var record = await worker.DeliveryLog.GetAsync(blocked.TaskId, ct);
        Assert.Equal(DeliveryStatus.Suppressed, record.Status);
        Assert.Contains("FAILED.BLOCKED", record.LastError);
        Assert.DoesNotContain(record.Timeline, e => e.Status == DeliveryStatus.Sending);
        // The provider's own count and cost are kept with the send.
        var sent = await worker.DeliveryLog.GetAsync(other.TaskId, ct);
        Assert.Equal((2, 1.6), (sent.SmsParts, sent.CreditCost));

        await suppressions.LiftAsync(NotificationType.Sms, "+15550000001", "staff:ops", "carrier unblocked it", ct);
        var next = await worker.Queue.EnqueueAsync(Sms(1), ct);
        await worker.WaitUntilAsync(s => s.Counters.Processed == 3, s_wait, "the next SMS to the lifted number is handled");

        Assert.Equal(1, SuccessfulSendsByRecipient()["+15550000001"]);
        Assert.Equal(DeliveryStatus.Sent, (await worker.DeliveryLog.GetAsync(next.TaskId, ct)).Status);
    }

    [Fact]
    public async Task TheLocalOutbox_ReportsDeliveryLikeAProvider_AndAnUndeliverableAddressBouncesAndIsSuppressed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var worker = WorkerUnderTest.Start(_redis.Endpoint, _bulkSms, new Dictionary<string, string?>
        {
            ["Sending:Outbox:Receipts:Delay"] = "00:00:00.200",
            ["Sending:Outbox:Receipts:Undeliverable:0"] = "Bounce@Example.org",
        });

        var fine = await worker.Queue.EnqueueAsync(NotificationRequest.Email("asha@example.org", "Welcome", "Hello"), ct);
        var bouncing = await worker.Queue.EnqueueAsync(NotificationRequest.Email("bounce@example.org", "Welcome", "Hello"), ct);

        var delivered = await WaitForStatusAsync(worker, fine.TaskId, DeliveryStatus.Delivered);
        var bounced = await WaitForStatusAsync(worker, bouncing.TaskId, DeliveryStatus.Bounced);
        Assert.Equal([DeliveryStatus.Sending, DeliveryStatus.Sent, DeliveryStatus.Delivered], delivered.Timeline.Select(e => e.Status).Where(s => s != DeliveryStatus.Queued));
        Assert.Contains("hard_bounce", bounced.LastError);
        var suppression = await worker.Services.GetRequiredService<ISuppressionList>().FindAsync(NotificationType.Email, "bounce@example.org", ct);
        Assert.Equal(("outbox", bouncing.TaskId), (suppression?.Source, suppression?.TaskId));

        // The next email to the bounced address is not sent.
        var next = await worker.Queue.EnqueueAsync(NotificationRequest.Email("bounce@example.org", "Results", "Hello again"), ct);
        await WaitForStatusAsync(worker, next.TaskId, DeliveryStatus.Suppressed);
    }

    private static async Task<DeliveryRecord> WaitForStatusAsync(WorkerUnderTest worker, string taskId, DeliveryStatus status)
    {
        var deadline = DateTime.UtcNow + s_wait;
        DeliveryRecord? record = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                record = await worker.DeliveryLog.GetAsync(taskId, TestContext.Current.CancellationToken);
                if (record.Status == status)
                {
                    return record;
                }
            }
            catch (NotFoundException)
            {
                // Not logged yet.
            }
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        Assert.Fail($"{taskId} did not become {status} within {s_wait.TotalSeconds} s; it is {record?.Status} ({record?.LastError}).");
        return null!;
    }

    [Fact]
    public async Task InvalidNumber_IsDeadLetteredAtOnce_WithTheProvidersReason()
    {
        AnswerSms(400, """{"type":"https://developer.bulksms.com/json/v1/errors#validation","title":"Validation error","status":400,"detail":"to: +1555 is not a valid number"}""", "application/problem+json");
        await using var worker = WorkerUnderTest.Start(_redis.Endpoint, _bulkSms);
        var queued = await worker.Queue.EnqueueAsync(Sms(1), TestContext.Current.CancellationToken);

        await worker.WaitUntilAsync(s => s.Dead == 1, s_wait, "the task is dead-lettered");

        Assert.Single(_bulkSms.LogEntries);
        var letter = await worker.DeadLetters.GetAsync(queued.TaskId, TestContext.Current.CancellationToken);
        Assert.Contains("not a valid number", letter?.Error);
        var record = await worker.DeliveryLog.GetAsync(queued.TaskId, TestContext.Current.CancellationToken);
        Assert.Equal(DeliveryStatus.Dead, record.Status);
        Assert.Equal(1, record.Attempts);
        Assert.Contains("not a valid number", record.LastError);
    }

    [Fact]
    public async Task ADeadLetterRemovedByTheCaps_IsWrittenToTheDeliveryLog()
    {
        AnswerSms(400, """{"type":"https://developer.bulksms.com/json/v1/errors#validation","title":"Validation error","status":400,"detail":"to: not a valid number"}""", "application/problem+json");
        await using var worker = WorkerUnderTest.Start(_redis.Endpoint, _bulkSms, new Dictionary<string, string?> { ["NotificationQueue:DeadLetterMaxCount"] = "1" });
        var first = await worker.Queue.EnqueueAsync(Sms(1), TestContext.Current.CancellationToken);
        await worker.WaitUntilAsync(s => s.Dead == 1, s_wait, "the first is dead-lettered");
        await worker.Queue.EnqueueAsync(Sms(2), TestContext.Current.CancellationToken);

        await worker.WaitUntilAsync(s => s.Counters.DeadEvicted == 1, s_wait, "the cap removes the first dead letter");
        var record = await RemovedByTheCapsAsync(worker, first.TaskId);
        Assert.Equal(DeliveryStatus.Dead, record.Status);
        Assert.Contains(record.Timeline, e => e.Error?.Contains("not a valid number", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task ADeadLetterRemovedByTheCapsForAnUnreadableLegacyTask_IsWrittenToTheDeliveryLog()
    {
        AnswerSms(400, """{"type":"https://developer.bulksms.com/json/v1/errors#validation","title":"Validation error","status":400,"detail":"to: not a valid number"}""", "application/problem+json");
        await using var worker = WorkerUnderTest.Start(_redis.Endpoint, _bulkSms, new Dictionary<string, string?> { ["NotificationQueue:DeadLetterMaxCount"] = "1" });
        var first = await worker.Queue.EnqueueAsync(Sms(1), TestContext.Current.CancellationToken);
        await worker.WaitUntilAsync(s => s.Dead == 1, s_wait, "the first is dead-lettered");

        await RedisCliAsync("LPUSH", worker.LegacyListKey, "{\"id\": \"task_1\", \"type\": \"sms\", \"data\": ");

        await worker.WaitUntilAsync(s => s.Counters.DeadEvicted == 1, s_wait, "the unreadable legacy task's dead letter pushes the first out");
        var record = await RemovedByTheCapsAsync(worker, first.TaskId);
        Assert.Equal(DeliveryStatus.Dead, record.Status);
        var letters = await worker.DeadLetters.ListAsync(new DeadLetterQuery(), TestContext.Current.CancellationToken);
        Assert.Contains("Legacy task rejected", Assert.Single(letters.Items).Error);
    }

    /// <summary>Waits until the task's delivery record says the dead-letter caps removed it.</summary>
    private static async Task<DeliveryRecord> RemovedByTheCapsAsync(WorkerUnderTest worker, string taskId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        DeliveryRecord record;
        while (!((record = await worker.DeliveryLog.GetAsync(taskId, TestContext.Current.CancellationToken)).LastError ?? "").Contains("Removed from the dead letters", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the delivery log still says: {record.LastError}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        return record;
    }

    [Fact]
    public async Task LegacyTasksPushedWithRedisCli_AreDelivered_AndMalformedOnesDeadLettered()
    {
        AnswerSms(201, Accepted);
        await using var worker = WorkerUnderTest.Start(_redis.Endpoint, _bulkSms);
        var legacy = """{"id":"task_1640995200000","type":"sms","data":{"phone":"+15550001234","message":"Welcome message"},"timestamp":1640995200,"retry_count":0,"max_retries":3}""";

        await RedisCliAsync("LPUSH", worker.LegacyListKey, legacy);
        await RedisCliAsync("LPUSH", worker.LegacyListKey, "{\"id\": \"task_1\", \"type\": \"sms\", \"data\": ");
        await RedisCliAsync("LPUSH", worker.LegacyListKey, """{"id":"task_2","type":"fax","data":{}}""");

        await worker.WaitUntilAsync(s => s.Counters.Processed == 1 && s.Dead == 2, s_wait, "one delivered, two dead-lettered");
        var request = Assert.Single(_bulkSms.LogEntries).RequestMessage!;
        using (var body = JsonDocument.Parse(request.Body!))
        {
            Assert.Equal("+15550001234", body.RootElement[0].GetProperty("to")[0].GetProperty("address").GetString());
            Assert.Equal("Welcome message", body.RootElement[0].GetProperty("body").GetString());
        }
        var letters = await worker.DeadLetters.ListAsync(new DeadLetterQuery { Search = "Legacy task rejected" }, TestContext.Current.CancellationToken);
        Assert.Equal(2, letters.Total);
        Assert.All(letters.Items, letter => Assert.Null(letter.Task));
        Assert.Contains(letters.Items, letter => letter.RawPayload.Contains("fax", StringComparison.Ordinal));
        Assert.Equal("0", (await RedisCliAsync("LLEN", worker.LegacyListKey)).Trim());
    }

    private Dictionary<string, int> SuccessfulSendsByRecipient() => _bulkSms.LogEntries
        .Where(e => e.ResponseMessage?.StatusCode is 201 or "201")
        .GroupBy(e => JsonDocument.Parse(e.RequestMessage!.Body!).RootElement[0].GetProperty("to")[0].GetProperty("address").GetString()!)
        .ToDictionary(g => g.Key, g => g.Count());

    private static NotificationRequest Sms(int i) => NotificationRequest.Sms($"+1555000{i:D4}", $"Your result is ready ({i})");

    private void AnswerSms(int status, string body, string contentType = "application/json")
    {
        _bulkSms.Reset();
        _bulkSms.Given(Request.Create().WithPath("/v1/messages").UsingPost())
            .RespondWith(Response.Create().WithStatusCode(status).WithHeader("Content-Type", contentType).WithBody(body));
    }

    private async Task<string> RedisCliAsync(params string[] args)
    {
        var info = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-p", _redis.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(args))
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, process.ExitCode);
        return output;
    }
}
