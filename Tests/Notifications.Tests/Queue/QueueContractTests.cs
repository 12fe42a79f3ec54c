using Notifications.Queue;
using Notifications.Tasks;
using Notifications.Tests.Infrastructure;
using StackExchange.Redis;

namespace Notifications.Tests.Queue;

/// <summary>The queue's behaviour, run against Debian's redis-server and against Garnet alike.</summary>
public abstract class QueueContractTests(RedisServerFixture fixture)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    protected QueueHarness NewHarness(Action<QueueOptions>? configure = null) => new(fixture.Connection, configure);

    [Fact]
    public async Task Enqueue_DeliversTaskInTheOldPlanSchema_ToTheHandler()
    {
        await using var harness = NewHarness();
        var handler = new RecordingHandler();
        var request = NotificationRequest.Email("user@example.com", "Welcome", "Email content") with
        {
            Correlation = new Correlation { BatchId = "b1", StudentId = "s1" },
        };

        var result = await harness.Queue.EnqueueAsync(request, TestContext.Current.CancellationToken);
        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Count == 1), s_wait, "the task is handled");

        var task = Assert.Single(handler.Calls).Task;
        Assert.Equal(result.TaskId, task.Id);
        Assert.False(result.Duplicate);
        Assert.Equal(NotificationType.Email, task.Type);
        Assert.Equal("user@example.com", task.Data.Email);
        Assert.Equal("Welcome", task.Data.Subject);
        Assert.Equal(0, task.RetryCount);
        Assert.Equal(3, task.MaxRetries);
        Assert.Equal("b1", task.Correlation?.BatchId);
        Assert.InRange(DateTimeOffset.UtcNow - task.QueuedAt, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "the task is acknowledged");
        Assert.False(await harness.Db.HashExistsAsync(harness.Keys.Tasks, result.TaskId));
    }

    [Fact]
    public async Task EnqueueMany_QueuesThousandsWithDistinctIds()
    {
        await using var harness = NewHarness();
        var requests = Enumerable.Range(0, 5_000).Select(i => QueueHarness.Sms(i)).ToArray();

        var results = await harness.Queue.EnqueueManyAsync(requests, TestContext.Current.CancellationToken);

        Assert.Equal(5_000, results.Select(r => r.TaskId).Distinct().Count());
        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(5_000, stats.Pending);
        Assert.Equal(5_000, stats.Counters.Enqueued);
        Assert.NotNull(stats.OldestPendingAge);
    }

    [Fact]
    public async Task Enqueue_RejectsInvalidRequest_AndQueuesNothing()
    {
        await using var harness = NewHarness();
        NotificationRequest[] requests =
        [
            QueueHarness.Sms(1),
            NotificationRequest.Sms("", "no phone"),
        ];

        await Assert.ThrowsAsync<InvalidNotificationException>(() => harness.Queue.EnqueueManyAsync(requests, TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<InvalidNotificationException>(() => harness.Queue.EnqueueAsync(
            NotificationRequest.Email("a@example.com", "", "body"), TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<InvalidNotificationException>(() => harness.Queue.EnqueueAsync(
            NotificationRequest.Sms("+15550000000", new string('x', 300 * 1024)), TestContext.Current.CancellationToken));

        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, stats.Pending);
        Assert.Equal(0, stats.Counters.Enqueued);
    }

    [Fact]
    public async Task Enqueue_WithSameIdempotencyKey_QueuesOnce()
    {
        await using var harness = NewHarness();
        var request = QueueHarness.Sms(1) with { IdempotencyKey = "submission-42-confirmation" };

        var first = await harness.Queue.EnqueueAsync(request, TestContext.Current.CancellationToken);
        var second = await harness.Queue.EnqueueAsync(request, TestContext.Current.CancellationToken);
        var inBulk = await harness.Queue.EnqueueManyAsync([request, QueueHarness.Sms(2)], TestContext.Current.CancellationToken);

        Assert.False(first.Duplicate);
        Assert.True(second.Duplicate);
        Assert.Equal(first.TaskId, second.TaskId);
        Assert.Equal(first.TaskId, inBulk[0].TaskId);
        Assert.True(inBulk[0].Duplicate);
        Assert.False(inBulk[1].Duplicate);
        Assert.Equal(2, (await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken)).Pending);
    }

    [Fact]
    public async Task PreparedTasks_KeepTheirIds_AndMovedTwice_AreQueuedOnce()
    {
        // What the outbox relay does when it crashed after Redis took its entries but before it removed them.
        await using var harness = NewHarness();
        var factory = new NotificationTaskFactory(Microsoft.Extensions.Options.Options.Create(new QueueOptions { Name = harness.Queue.Keys.Name }), TimeProvider.System);
        var prepared = factory.PrepareAll([QueueHarness.Sms(1) with { IdempotencyKey = "welcome:R1:sms" }, QueueHarness.Sms(2) with { IdempotencyKey = "welcome:R2:sms" }]);

        var first = await harness.Queue.EnqueueManyAsync(prepared, TestContext.Current.CancellationToken);
        var again = await harness.Queue.EnqueueManyAsync(prepared, TestContext.Current.CancellationToken);

        Assert.Equal(prepared.Select(p => p.Task.Id), first.Select(r => r.TaskId));
        Assert.All(first, r => Assert.False(r.Duplicate));
        // The same ids again (the key's task is this task), and nothing added.
        Assert.Equal(prepared.Select(p => p.Task.Id), again.Select(r => r.TaskId));
        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal((2, 2L), (stats.Pending, stats.Counters.Enqueued));
    }

    [Fact]
    public async Task Claim_ReturnsTaskToPending_WhenLeaseExpires()
    {
        // Only the dead consumer's lease is short: the live consumer keeps the harness's, which its heartbeat renews.
        await using var harness = NewHarness();
        var queued = await harness.Queue.EnqueueManyAsync([.. Enumerable.Range(0, 20).Select(i => QueueHarness.Sms(i))], TestContext.Current.CancellationToken);
        Assert.Equal(20, await harness.ClaimAsDeadConsumerAsync(20, TimeSpan.FromSeconds(1)));
        Assert.Equal(20, (await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken)).Leased);

        var handler = new RecordingHandler();
        var started = DateTimeOffset.UtcNow;
        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Count == 20), s_wait, "the dead consumer's tasks are recovered and handled");

        Assert.Equal(queued.Select(r => r.TaskId).Order(), handler.Calls.Select(c => c.Task.Id).Order());
        Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(30), "recovery takes about one lease, not minutes");
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Recovered == 20, s_wait, "recoveries are counted");
    }

    [Fact]
    public async Task Heartbeat_KeepsLease_WhileHandlerRunsLongerThanTheLease()
    {
        // A 3 s lease renewed every 250 ms: a stall of a second on a loaded machine leaves margin.
        await using var harness = NewHarness(o =>
        {
            o.LeaseDuration = TimeSpan.FromSeconds(3);
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
        });
        var handler = new RecordingHandler(async _ =>
        {
            await Task.Delay(TimeSpan.FromSeconds(8));
            return HandlerResult.Done;
        });
        await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);

        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Count == 1), s_wait, "the first consumer holds the task");
        // A second consumer would pick the task up if its lease lapsed during the 8 s send.
        var other = new RecordingHandler();
        harness.Start(other);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "the long task completes");

        Assert.Equal((1, 0), (handler.Count, other.Count));
        Assert.Equal(0, (await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken)).Counters.Recovered);
    }

    [Fact]
    public async Task FailedTask_IsRetriedWithBackoff_ThenDeadLetteredWithLastError()
    {
        await using var harness = NewHarness(o =>
        {
            o.RetryBaseDelay = TimeSpan.FromMilliseconds(300);
            o.RetryMaxDelay = TimeSpan.FromSeconds(10);
        });
        var handler = new RecordingHandler(claimed => ValueTask.FromResult(HandlerResult.Retry($"provider 503 on attempt {claimed.Attempt}")));
        var queued = await harness.Queue.EnqueueAsync(QueueHarness.Sms(1) with { MaxRetries = 2 }, TestContext.Current.CancellationToken);

        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Dead == 1, s_wait, "the task is dead-lettered");

        var calls = handler.Calls.ToArray();
        Assert.Equal([1, 2, 3], calls.Select(c => c.Attempt));
        // Backoff 300 ms then 600 ms (no jitter here); the poll interval may add to it, never take away.
        Assert.True(calls[1].At - calls[0].At >= TimeSpan.FromMilliseconds(290), $"first retry after {(calls[1].At - calls[0].At).TotalMilliseconds} ms");
        Assert.True(calls[2].At - calls[1].At >= TimeSpan.FromMilliseconds(590), $"second retry after {(calls[2].At - calls[1].At).TotalMilliseconds} ms");

        var letter = await harness.DeadLetters.GetAsync(queued.TaskId, TestContext.Current.CancellationToken);
        Assert.NotNull(letter);
        Assert.Equal("provider 503 on attempt 3", letter.Error);
        Assert.Equal(3, letter.Task?.RetryCount);
        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(3, stats.Counters.Failed);
        Assert.Equal(2, stats.Counters.Retried);
        Assert.Equal(1, stats.Counters.DeadLettered);
        Assert.Equal(0, stats.Pending + stats.Scheduled + stats.Leased);
    }

    [Fact]
    public async Task RetryAfterFromHandler_WinsOverBackoff()
    {
        await using var harness = NewHarness(o => o.RetryBaseDelay = TimeSpan.FromMilliseconds(50));
        var handler = new RecordingHandler(claimed => ValueTask.FromResult(claimed.Attempt == 1
            ? HandlerResult.Retry("429 Too Many Requests", TimeSpan.FromMilliseconds(1500))
            : HandlerResult.Done));
        await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);

        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Count == 2), s_wait, "the retry happens");

        var calls = handler.Calls.ToArray();
        Assert.True(calls[1].At - calls[0].At >= TimeSpan.FromMilliseconds(1490));
    }

    [Fact]
    public async Task Postponed_IsTriedAgainAfterItsDelay_WithoutUsingAnAttempt()
    {
        await using var harness = NewHarness();
        var calls = 0;
        var handler = new RecordingHandler(_ => ValueTask.FromResult(Interlocked.Increment(ref calls) <= 3
            ? HandlerResult.Postpone("circuit open", TimeSpan.FromMilliseconds(200))
            : HandlerResult.Done));
        await harness.Queue.EnqueueAsync(QueueHarness.Sms(1) with { MaxRetries = 0 }, TestContext.Current.CancellationToken);

        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "the task is sent once the circuit closes");

        Assert.Equal([1, 1, 1, 1], handler.Calls.Select(c => c.Attempt));
        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(3, stats.Counters.Postponed);
        Assert.Equal(0, stats.Counters.Failed);
        Assert.Equal(0, stats.Dead);
    }

    [Fact]
    public async Task PermanentFailure_IsDeadLetteredAtOnce()
    {
        await using var harness = NewHarness();
        var handler = new RecordingHandler(_ => ValueTask.FromResult(HandlerResult.Permanent("invalid number: +1555")));
        var queued = await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);

        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Dead == 1, s_wait, "the task is dead-lettered");

        Assert.Single(handler.Calls);
        Assert.Equal("invalid number: +1555", (await harness.DeadLetters.GetAsync(queued.TaskId, TestContext.Current.CancellationToken))?.Error);
    }

    [Fact]
    public async Task HandlerException_CountsAsTransientFailure()
    {
        await using var harness = NewHarness();
        var handler = new RecordingHandler(claimed => claimed.Attempt == 1
            ? throw new HttpRequestException("connection reset")
            : ValueTask.FromResult(HandlerResult.Done));
        await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);

        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "the retry succeeds");

        Assert.Equal(2, handler.Count);
    }

    [Fact]
    public async Task DeadLetters_CanBeSearchedRetriedAndDeleted()
    {
        await using var harness = NewHarness();
        var failing = true;
        var handler = new RecordingHandler(claimed => ValueTask.FromResult(Volatile.Read(ref failing)
            ? HandlerResult.Permanent($"rejected {claimed.Task.Recipient}")
            : HandlerResult.Done));
        var sms = await harness.Queue.EnqueueManyAsync([QueueHarness.Sms(1), QueueHarness.Sms(2), QueueHarness.Sms(3)], TestContext.Current.CancellationToken);
        var email = await harness.Queue.EnqueueAsync(NotificationRequest.Email("pat@example.com", "Hi", "Body"), TestContext.Current.CancellationToken);
        var consumer = harness.Start(handler);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Dead == 4, s_wait, "all four are dead letters");

        var all = await harness.DeadLetters.ListAsync(new DeadLetterQuery { Limit = 2 }, TestContext.Current.CancellationToken);
        Assert.Equal(4, all.Total);
        Assert.Equal(2, all.Items.Count);
        var byRecipient = await harness.DeadLetters.ListAsync(new DeadLetterQuery { Search = "pat@EXAMPLE" }, TestContext.Current.CancellationToken);
        Assert.Equal(email.TaskId, Assert.Single(byRecipient.Items).Id);
        var byType = await harness.DeadLetters.ListAsync(new DeadLetterQuery { Type = NotificationType.Sms }, TestContext.Current.CancellationToken);
        Assert.Equal(3, byType.Total);
        var byError = await harness.DeadLetters.ListAsync(new DeadLetterQuery { Search = "rejected +15550000002" }, TestContext.Current.CancellationToken);
        Assert.Equal(sms[1].TaskId, Assert.Single(byError.Items).Id);

        Volatile.Write(ref failing, false);
        Assert.True(await harness.DeadLetters.RetryAsync(sms[0].TaskId, TestContext.Current.CancellationToken));
        Assert.False(await harness.DeadLetters.RetryAsync("no-such-id", TestContext.Current.CancellationToken));
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "the retried letter is sent");
        Assert.Null(await harness.DeadLetters.GetAsync(sms[0].TaskId, TestContext.Current.CancellationToken));

        Assert.True(await harness.DeadLetters.DeleteAsync(sms[1].TaskId, TestContext.Current.CancellationToken));
        Assert.False(await harness.DeadLetters.DeleteAsync(sms[1].TaskId, TestContext.Current.CancellationToken));
        Assert.False(await harness.Db.HashExistsAsync(harness.Keys.Tasks, sms[1].TaskId));

        Assert.Equal(2, await harness.DeadLetters.RetryAllAsync(TestContext.Current.CancellationToken));
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 3, s_wait, "all retried letters are sent");
        await consumer.StopAsync();

        Assert.Equal(0, (await harness.DeadLetters.ListAsync(new DeadLetterQuery(), TestContext.Current.CancellationToken)).Total);
        await harness.DeadLetters.AddUnreadableAsync("{not json", "legacy task is not JSON", TestContext.Current.CancellationToken);
        var unreadable = Assert.Single((await harness.DeadLetters.ListAsync(new DeadLetterQuery { Search = "not JSON" }, TestContext.Current.CancellationToken)).Items);
        Assert.Null(unreadable.Task);
        Assert.Equal("{not json", unreadable.RawPayload);
        Assert.False(await harness.DeadLetters.RetryAsync(unreadable.Id, TestContext.Current.CancellationToken));
        Assert.Equal(1, await harness.DeadLetters.DeleteAllAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task DeadLetters_AreCappedInCount()
    {
        await using var harness = NewHarness(o => o.DeadLetterMaxCount = 5);
        var handler = new RecordingHandler(_ => ValueTask.FromResult(HandlerResult.Permanent("bad")));
        var queued = await harness.Queue.EnqueueManyAsync([.. Enumerable.Range(0, 8).Select(i => QueueHarness.Sms(i))], TestContext.Current.CancellationToken);

        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.DeadLettered == 8, s_wait, "all are dead-lettered");

        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(5, stats.Dead);
        // Every removal is counted, none silent, and the handler hears of each (the worker writes it to the delivery log).
        Assert.Equal(3, stats.Counters.DeadEvicted);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.EndedByQueue.Count == 3), s_wait, "the handler hears of the three removed");
        Assert.All(handler.EndedByQueue, ended => Assert.Contains("Removed from the dead letters", ended.Reason));
        Assert.Equal(3, handler.EndedByQueue.Select(e => e.Task.Id).Intersect(queued.Select(q => q.TaskId)).Count());
        Assert.Equal(5, await harness.Db.HashLengthAsync(harness.Keys.Tasks));
    }

    [Fact]
    public async Task UnreadableDeadLetters_ObeyTheSameCaps()
    {
        await using var harness = NewHarness(o => o.DeadLetterMaxCount = 2);
        var added = new List<UnreadableDeadLetter>();
        for (var i = 0; i < 4; i++)
        {
            added.Add(await harness.DeadLetters.AddUnreadableAsync($"{{not json {i}", "legacy task is not JSON", TestContext.Current.CancellationToken));
        }

        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2, stats.Dead);
        Assert.Equal(2, stats.Counters.DeadEvicted);
        Assert.Equal(2, await harness.Db.HashLengthAsync(harness.Keys.Tasks));
        // Each removal is reported to the caller that caused it, not dropped silently: the reported ids
        // are exactly the added ones no longer kept (letters of the same millisecond may go in either order).
        var kept = (await harness.DeadLetters.ListAsync(new DeadLetterQuery(), TestContext.Current.CancellationToken)).Items.Select(l => l.Id);
        Assert.Equal(added.Select(a => a.Id).Except(kept).Order(), added.SelectMany(a => a.Evicted.Ids).Order());
        Assert.All(added, a => Assert.Empty(a.Evicted.Tasks));
    }

    [Fact]
    public async Task UnreadableDeadLetter_PastTheCaps_ReturnsTheReadableTaskItRemoved_ForItsDeliveryRecord()
    {
        await using var harness = NewHarness(o => o.DeadLetterMaxCount = 1);
        var taskId = Notifications.Tasks.TaskIds.New();
        var readable = $$"""{"id":"{{taskId}}","type":"sms","data":{"phone":"+15550001111","message":"hi"},"timestamp":1,"retry_count":3,"max_retries":3}""";
        var first = await harness.DeadLetters.AddUnreadableAsync(readable, "provider said no", TestContext.Current.CancellationToken);

        var second = await harness.DeadLetters.AddUnreadableAsync("{not json", "legacy task is not JSON", TestContext.Current.CancellationToken);

        Assert.Empty(first.Evicted.Ids);
        Assert.Equal([first.Id], second.Evicted.Ids);
        Assert.Equal(taskId, Assert.Single(second.Evicted.Tasks).Id);
        Assert.Equal(1, (await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken)).Counters.DeadEvicted);
    }

    [Fact]
    public async Task Handler_IsCancelledBeforeItSends_WhenItsLeaseIsLost_AndTheTaskIsSentOnceByItsNextClaim()
    {
        await using var harness = NewHarness(o => o.HeartbeatInterval = TimeSpan.FromMilliseconds(200));
        var sends = 0;
        var calls = 0;
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new RecordingHandler(async (claimed, cancellationToken) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                try
                {
                    // Stands for the wait before a send (the rate limit, the provider's connection).
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    cancelled.TrySetResult();
                    throw;
                }
            }
            Interlocked.Increment(ref sends);
            return HandlerResult.Done;
        });
        var queued = await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);
        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Count == 1), s_wait, "the first claim's handler runs");

        await harness.ExpireLeaseAsync(queued.TaskId);

        await cancelled.Task.WaitAsync(s_wait, TestContext.Current.CancellationToken);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "the task's next claim completes it");
        Assert.Equal(1, sends);
        Assert.Equal(2, handler.Count);
        Assert.Equal(1, (await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken)).Counters.Recovered);
    }

    [Fact]
    public async Task Acknowledge_OfAClaimWhoseLeaseWasLost_LeavesTheTaskToItsNewClaim_AndMarksItSent()
    {
        // One consumer claims the task twice: fencing is per claim, not per process.
        await using var harness = NewHarness(o => o.HeartbeatInterval = TimeSpan.FromMilliseconds(200));
        var firstDone = new TaskCompletionSource<HandlerResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondDone = new TaskCompletionSource<HandlerResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource<ClaimedTask>(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        var handler = new RecordingHandler(async claimed =>
        {
            // Both claims ignore cancellation: a send already on the wire cannot be called back.
            if (Interlocked.Increment(ref calls) == 1)
            {
                return await firstDone.Task;
            }
            second.TrySetResult(claimed);
            return await secondDone.Task;
        });
        var queued = await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);
        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Count == 1), s_wait, "the first claim's handler runs");
        await harness.ExpireLeaseAsync(queued.TaskId);
        var reclaimed = await second.Task.WaitAsync(s_wait, TestContext.Current.CancellationToken);
        Assert.False(reclaimed.AlreadySent);

        firstDone.SetResult(HandlerResult.Done);
        await QueueHarness.WaitUntilAsync(async () => await harness.Db.HashExistsAsync(harness.Keys.SentMarkers, queued.TaskId), s_wait,
            "the stale acknowledgement leaves a sent marker");
        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, stats.Counters.Processed);
        Assert.Equal(1, stats.Leased);

        secondDone.SetResult(HandlerResult.Done);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "the new claim completes the task");
        Assert.False(await harness.Db.HashExistsAsync(harness.Keys.SentMarkers, queued.TaskId));
    }

    [Fact]
    public async Task Leases_FollowTheServersClock_SoAWorkerWhoseClockIsAnHourAhead_RecoversNothingHeld()
    {
        await using var harness = NewHarness(o => o.HeartbeatInterval = TimeSpan.FromMilliseconds(200));
        var release = new TaskCompletionSource<HandlerResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var holder = new RecordingHandler(_ => new ValueTask<HandlerResult>(release.Task));
        await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);
        harness.Start(holder);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(holder.Count == 1), s_wait, "the first worker holds the task");

        var skewed = new SkewedClock(TimeSpan.FromHours(1));
        var other = new RecordingHandler();
        harness.Start(other, skewed);
        // Its maintenance loop ticks every poll interval; ten ticks are ten chances to recover the lease wrongly.
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(skewed.Ticks >= 10), s_wait, "the skewed worker has run its maintenance");

        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, stats.Counters.Recovered);
        Assert.Equal(1, stats.Leased);
        Assert.Equal(0, other.Count);
        release.SetResult(HandlerResult.Done);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "the holder completes it");
    }

    [Fact]
    public async Task PoisonTask_WhoseLeaseExpiresEveryTime_IsDeadLetteredAfterMaxRecoveries()
    {
        await using var harness = NewHarness(o => o.MaxRecoveries = 2);
        var stuck = new TaskCompletionSource<HandlerResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Each claim hangs as a handler that kills its worker would: the lease only ever expires.
        var handler = new RecordingHandler(_ => new ValueTask<HandlerResult>(stuck.Task));
        var queued = await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);
        harness.Start(handler);
        try
        {
            for (var claim = 1; claim <= 3; claim++)
            {
                await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Count == claim), s_wait, $"claim {claim} runs");
                await harness.ExpireLeaseAsync(queued.TaskId);
            }
            await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Dead == 1, s_wait, "the task is dead-lettered");
        }
        finally
        {
            stuck.SetResult(HandlerResult.Done);
        }

        var letter = await harness.DeadLetters.GetAsync(queued.TaskId, TestContext.Current.CancellationToken);
        Assert.Contains("Recovered more than 2 times", letter?.Error);
        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, stats.Counters.Poisoned);
        Assert.Equal(2, stats.Counters.Recovered);
        Assert.Equal(3, handler.Count);
        Assert.Equal(0, stats.Pending + stats.Leased + stats.Scheduled);
        // The handler hears of it just after the script ran: wait for that, not for a count seen mid-flight.
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(!handler.EndedByQueue.IsEmpty), s_wait, "the handler hears of the poison task");
        var ended = Assert.Single(handler.EndedByQueue);
        Assert.Equal(queued.TaskId, ended.Task.Id);
        Assert.Contains("Recovered more than 2 times", ended.Reason);
    }

    [Fact]
    public async Task HighPriority_IsSentBeforeBulkBacklogFinishes()
    {
        await using var harness = NewHarness(o =>
        {
            o.Concurrency = 4;
            o.Prefetch = 4;
        });
        await harness.Queue.EnqueueManyAsync([.. Enumerable.Range(0, 10_000).Select(i => QueueHarness.Sms(i, NotificationPriority.Bulk))], TestContext.Current.CancellationToken);
        var handler = new RecordingHandler(async _ =>
        {
            await Task.Yield();
            return HandlerResult.Done;
        });
        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Count >= 100), s_wait, "bulk work is under way");

        var code = await harness.Queue.EnqueueAsync(NotificationRequest.Sms("+15559999999", "Your code is 123456", NotificationPriority.High), TestContext.Current.CancellationToken);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Calls.Any(c => c.Task.Id == code.TaskId)), s_wait, "the one-time code is sent");

        // One snapshot: the consumer goes on draining the backlog while the test looks.
        var calls = handler.Calls.ToArray();
        var position = Array.FindIndex(calls, c => c.Task.Id == code.TaskId);
        Assert.True(calls.Take(position).Count(c => c.Task.Priority == NotificationPriority.Bulk) < 10_000,
            $"the code was handled at position {position}, before the bulk work had finished");
    }

    [Fact]
    public async Task RedeliveredTask_ThatWasAlreadySent_IsFlaggedSoItIsNotSentAgain()
    {
        await using var harness = NewHarness();
        var queued = await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);
        // The first consumer sends, marks the send, then dies before acknowledging.
        Assert.Equal(1, await harness.ClaimAsDeadConsumerAsync(1, TimeSpan.FromSeconds(1)));
        await harness.Db.HashSetAsync(harness.Keys.SentMarkers, queued.TaskId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

        var handler = new RecordingHandler();
        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "the redelivered task completes");

        Assert.True(Assert.Single(handler.Calls).AlreadySent);
        Assert.False(await harness.Db.HashExistsAsync(harness.Keys.SentMarkers, queued.TaskId));
    }

    [Fact]
    public async Task Wake_DeliversWithinMilliseconds_EvenWithLongPollInterval()
    {
        await using var harness = NewHarness(o => o.PollInterval = TimeSpan.FromSeconds(30));
        var handler = new RecordingHandler();
        harness.Start(handler);
        await Task.Delay(300, TestContext.Current.CancellationToken); // the consumer is idle and waiting

        await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);

        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Count == 1), TimeSpan.FromSeconds(10), "the pub/sub wake-up, not the 30 s poll, delivers it");
    }

    [Fact]
    public async Task GracefulShutdown_FinishesRunningTasks_AndGivesBackTheRest()
    {
        await using var harness = NewHarness(o =>
        {
            o.Concurrency = 2;
            o.Prefetch = 10;
        });
        var release = new TaskCompletionSource();
        var handler = new RecordingHandler(async _ =>
        {
            await release.Task;
            return HandlerResult.Done;
        });
        await harness.Queue.EnqueueManyAsync([.. Enumerable.Range(0, 20).Select(i => QueueHarness.Sms(i))], TestContext.Current.CancellationToken);
        var consumer = harness.Start(handler);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(handler.Count == 2 && consumer.Consumer.InHand == 12), s_wait, "two running, ten prefetched");

        var stopping = consumer.StopAsync();
        // Released only once the consumer has stopped fetching: the handlers then take nothing more.
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(consumer.Consumer.State == ConsumerState.Stopping), s_wait, "the consumer is stopping");
        release.SetResult();
        await stopping;

        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2, stats.Counters.Processed);
        Assert.Equal(18, stats.Pending);
        Assert.Equal(0, stats.Leased);
        Assert.Equal(ConsumerState.Stopped, consumer.Consumer.State);
    }

    [Fact]
    public async Task GracefulShutdown_ReleasesHandlersStillRunningAfterTheTimeout()
    {
        await using var harness = NewHarness(o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(300));
        var slow = new SlowHandler();
        await harness.Queue.EnqueueAsync(QueueHarness.Sms(1), TestContext.Current.CancellationToken);
        var consumer = harness.Start(slow);
        await QueueHarness.WaitUntilAsync(() => Task.FromResult(slow.Started), s_wait, "the handler runs");

        await consumer.StopAsync();

        var stats = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, stats.Pending);
        Assert.Equal(0, stats.Leased);
        Assert.Equal(0, stats.Counters.Failed);
    }

    [Fact]
    public async Task AllKeys_ShareTheQueueHashTag()
    {
        await using var harness = NewHarness();
        var handler = new RecordingHandler(claimed => ValueTask.FromResult(claimed.Task.Data.Phone!.EndsWith('1') ? HandlerResult.Permanent("x") : HandlerResult.Done));
        await harness.Queue.EnqueueManyAsync([QueueHarness.Sms(1), QueueHarness.Sms(2) with { IdempotencyKey = "k" }], TestContext.Current.CancellationToken);
        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "both handled");

        var server = fixture.Connection.GetServers()[0];
        var keys = server.Keys(pattern: $"*{harness.Options.Name}*").Select(k => (string)k!).ToArray();
        Assert.NotEmpty(keys);
        Assert.All(keys, key => Assert.StartsWith("{" + harness.Options.Name + "}:", key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Stats_ReportDepthPerLaneCountersAndThroughput()
    {
        await using var harness = NewHarness();
        await harness.Queue.EnqueueManyAsync(
            [QueueHarness.Sms(1, NotificationPriority.High), QueueHarness.Sms(2), QueueHarness.Sms(3, NotificationPriority.Bulk), QueueHarness.Sms(4, NotificationPriority.Bulk)],
            TestContext.Current.CancellationToken);

        var before = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal([1L, 1L, 2L], before.Lanes.Select(l => l.Pending));
        Assert.Equal(60, before.Throughput.Count);

        var handler = new RecordingHandler();
        harness.Start(handler);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 4, s_wait, "all processed");

        var after = await harness.Monitor.GetStatsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, after.Pending);
        Assert.Null(after.OldestPendingAge);
        Assert.Equal(4, after.Throughput.Sum(m => m.Completed));
        Assert.Equal(4, after.Counters.Enqueued);
    }

    [Fact]
    public async Task Memory_ReturnsToBaseline_AfterTheQueueDrains()
    {
        await using var harness = NewHarness(o =>
        {
            o.Concurrency = 32;
            o.Prefetch = 64;
        });
        var handler = new RecordingHandler();
        var consumer = harness.Start(handler);
        // Warm up: loads the scripts and creates the counters that stay for good.
        await harness.Queue.EnqueueManyAsync([QueueHarness.Sms(0)], TestContext.Current.CancellationToken);
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 1, s_wait, "warm-up");
        var baselineKeys = await CountQueueKeysAsync(harness);
        var baselineMemory = await UsedMemoryAsync();

        await harness.Queue.EnqueueManyAsync([.. Enumerable.Range(1, 10_000).Select(i => QueueHarness.Sms(i))], TestContext.Current.CancellationToken);
        var peakMemory = await UsedMemoryAsync();
        await QueueHarness.WaitUntilAsync(async () => (await harness.Monitor.GetStatsAsync()).Counters.Processed == 10_001, TimeSpan.FromSeconds(60), "the queue drains");
        await consumer.StopAsync();

        Assert.Equal(baselineKeys, await CountQueueKeysAsync(harness));
        Assert.Equal(0, await harness.Db.HashLengthAsync(harness.Keys.Tasks));
        Assert.Equal(0, await harness.Db.HashLengthAsync(harness.Keys.LeaseOwners));
        if (fixture.Server.ReportsUsedMemory)
        {
            var afterMemory = await UsedMemoryAsync();
            Assert.True(peakMemory - baselineMemory > 1_000_000, $"10,000 pending tasks should take memory (took {peakMemory - baselineMemory} bytes)");
            Assert.True(afterMemory - baselineMemory < 200_000, $"memory grew by {afterMemory - baselineMemory} bytes after draining");
        }
    }

    private async Task<int> CountQueueKeysAsync(QueueHarness harness)
    {
        var server = fixture.Connection.GetServers()[0];
        var count = 0;
        await foreach (var key in server.KeysAsync(pattern: "{" + harness.Options.Name + "}:*"))
        {
            // Not the per-minute throughput counters: one more appears when the test runs across a minute's turn,
            // and each expires by itself after the hour the dashboard shows.
            if (!((string)key!).StartsWith(harness.Keys.ThroughputPrefix, StringComparison.Ordinal))
            {
                count++;
            }
        }
        return count;
    }

    private async Task<long> UsedMemoryAsync()
    {
        if (!fixture.Server.ReportsUsedMemory)
        {
            return 0;
        }
        var info = await fixture.Connection.GetServers()[0].InfoAsync("memory");
        return long.Parse(info.SelectMany(g => g).First(p => p.Key == "used_memory").Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed class SlowHandler : INotificationHandler
    {
        private volatile bool _started;

        public bool Started => _started;

        public async ValueTask<HandlerResult> HandleAsync(ClaimedTask claimed, CancellationToken cancellationToken)
        {
            _started = true;
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return HandlerResult.Done;
        }
    }
}

public sealed class RedisQueueContractTests(RedisFixture fixture) : QueueContractTests(fixture), IClassFixture<RedisFixture>;

public sealed class GarnetQueueContractTests(GarnetFixture fixture) : QueueContractTests(fixture), IClassFixture<GarnetFixture>;
