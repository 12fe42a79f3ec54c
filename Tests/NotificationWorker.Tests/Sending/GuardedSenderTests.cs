using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NotificationWorker.Sending;
using NotificationWorker.Tests.Support;
using Notifications.Tasks;

namespace NotificationWorker.Tests.Sending;

public sealed class GuardedSenderTests : IDisposable
{
    private static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(SenderHost.Start);
    private readonly ScriptedProvider _provider = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task Circuit_OpensAfterRepeatedTransientFailures_AndAnswersWithoutCallingTheProvider()
    {
        var sender = Guard();
        _provider.Next = Unavailable;
        for (var i = 0; i < 2; i++)
        {
            Assert.IsType<SendResult.TransientFailure>(await sender.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken));
        }
        // The failure that opens the circuit blames the provider, not the message: no attempt is used.
        Assert.IsType<SendResult.Deferred>(await sender.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken));

        _time.Advance(TimeSpan.FromSeconds(10));
        var result = await sender.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        var open = Assert.IsType<SendResult.Deferred>(result);
        Assert.Contains("circuit is open", open.Reason);
        Assert.Equal(BreakDuration - TimeSpan.FromSeconds(10), open.RetryAfter);
        Assert.Equal(3, _provider.Calls);
    }

    [Fact]
    public async Task Circuit_ClosesAgain_WhenTheProviderRecoversAfterTheBreak()
    {
        var sender = Guard();
        _provider.Next = Unavailable;
        for (var i = 0; i < 3; i++)
        {
            await sender.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);
        }

        _time.Advance(BreakDuration + TimeSpan.FromSeconds(1));
        _provider.Next = Accepted;

        Assert.IsType<SendResult.Sent>(await sender.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken));
        Assert.IsType<SendResult.Sent>(await sender.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken));
        Assert.Equal(5, _provider.Calls);
    }

    [Fact]
    public async Task Circuit_StaysClosed_OnPermanentFailures()
    {
        var sender = Guard();
        _provider.Next = InvalidNumber;
        for (var i = 0; i < 5; i++)
        {
            Assert.IsType<SendResult.PermanentFailure>(await sender.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken));
        }

        Assert.Equal(5, _provider.Calls);
    }

    [Fact]
    public async Task TheSameRefusal_ForDifferentRecipients_IsTakenAsOurRequestsFault_AndOpensTheCircuit()
    {
        var sender = Guard();
        _provider.Next = InvalidNumber;
        var results = new List<SendResult>();
        for (var i = 0; i < 5; i++)
        {
            results.Add(await sender.SendAsync(Messages.Sms(to: $"+2783123450{i}"), TestContext.Current.CancellationToken));
        }

        // Two students may really have invalid numbers; from the third alike, the request is ours to fix.
        Assert.IsType<SendResult.PermanentFailure>(results[0]);
        Assert.IsType<SendResult.PermanentFailure>(results[1]);
        Assert.Contains("same refusal for 3 recipients", Assert.IsType<SendResult.RequestRefused>(results[2]).Error);
        Assert.IsType<SendResult.RequestRefused>(results[3]);
        Assert.Contains("circuit is open", Assert.IsType<SendResult.Deferred>(results[4]).Reason);
        Assert.Equal(4, _provider.Calls);
    }

    [Fact]
    public async Task RefusedRequests_OpenTheCircuit_AndReportItForTheAlerts()
    {
        var redis = await SenderHost.SharedRedisAsync();
        var circuits = new Notifications.Monitoring.ProviderCircuits(redis);
        var provider = new ScriptedProvider("refusing-" + Guid.NewGuid().ToString("N")[..8]) { Next = Refused };
        var sender = Guard(provider: provider, circuits: circuits);

        for (var i = 0; i < 3; i++)
        {
            Assert.IsType<SendResult.RequestRefused>(await sender.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken));
        }
        Assert.IsType<SendResult.Deferred>(await sender.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken));

        Notifications.Monitoring.ProviderCircuit? reported = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (reported is null && DateTime.UtcNow < deadline)
        {
            reported = (await circuits.ListOpenAsync(_time.GetUtcNow())).SingleOrDefault(c => c.Provider == provider.Name);
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
        Assert.NotNull(reported);
        Assert.Contains("401", reported.Reason);
        Assert.Equal(_time.GetUtcNow() + BreakDuration * 2, reported.Until);
        Assert.DoesNotContain(await circuits.ListOpenAsync(reported.Until), c => c.Provider == provider.Name);
    }

    [Fact]
    public async Task RateLimit_DefersWithItsWait_WithoutCallingTheProvider_WhenTheSlotIsTooFarOff()
    {
        var sender = Guard(new FixedLimiter(new RateLimitLease(false, TimeSpan.FromSeconds(4))));
        _provider.Next = Accepted;

        var result = await sender.SendAsync(Messages.Sms(), TestContext.Current.CancellationToken);

        Assert.Equal(TimeSpan.FromSeconds(4), Assert.IsType<SendResult.Deferred>(result).RetryAfter);
        Assert.Equal(0, _provider.Calls);
    }

    [Fact]
    public async Task Send_EmitsASpanWithProviderTags_AndCountsTheOutcome()
    {
        // The listeners hear every sender in the test run (other classes send in parallel): thread-safe
        // collections, and only this test's task and provider kept.
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == SendingTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if ((string?)activity.GetTagItem("notification.task_id") == "task-telemetry")
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        var counted = new System.Collections.Concurrent.ConcurrentQueue<(string Instrument, object? Provider)>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == SendingTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, _, tags, _) => counted.Enqueue((instrument.Name, Tag(tags, "provider"))));
        meters.Start();
        var sender = Guard();
        _provider.Next = Accepted;

        await sender.SendAsync(Messages.Sms(taskId: "task-telemetry"), TestContext.Current.CancellationToken);

        var span = Assert.Single(spans);
        Assert.Equal("send scripted", span.DisplayName);
        Assert.Equal("scripted", span.GetTagItem("notification.provider"));
        Assert.Equal("sent", span.GetTagItem("notification.outcome"));
        Assert.Equal("id-1", span.GetTagItem("notification.provider_message_id"));
        Assert.Contains(("notifications.provider.sent", (object?)"scripted"), counted);
    }

    private static object? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value;
            }
        }

        return null;
    }

    private GuardedSender Guard(IProviderRateLimiter? limiter = null, ScriptedProvider? provider = null,
        Notifications.Monitoring.ProviderCircuits? circuits = null) => new(
        provider ?? _provider,
        limiter,
        new SendingOptions
        {
            CircuitBreaker = new() { FailureRatio = 0.5, MinimumThroughput = 3, SamplingDuration = TimeSpan.FromSeconds(60), BreakDuration = BreakDuration },
        },
        new SendingTelemetry(_services.GetRequiredService<IMeterFactory>()),
        _time,
        NullLogger.Instance,
        circuits);

    private static SendResult Unavailable(int call) => new SendResult.TransientFailure("scripted", "503 Service Unavailable", null);

    private static SendResult Accepted(int call) => new SendResult.Sent("scripted", $"id-{call}");

    private static SendResult InvalidNumber(int call) => new SendResult.PermanentFailure("scripted", "400 invalid number");

    private static SendResult Refused(int call) => new SendResult.RequestRefused("scripted", "401 authentication failed", TimeSpan.FromMinutes(5));

    private sealed class ScriptedProvider(string name = "scripted") : IMessageSender
    {
        public Func<int, SendResult> Next { get; set; } = Accepted;

        public int Calls { get; private set; }

        public string Name => name;

        public NotificationType Channel => NotificationType.Sms;

        public Task<SendResult> SendAsync(OutgoingMessage message, CancellationToken ct)
        {
            // Numbered per result kind so the span test sees "id-1".
            Calls++;
            return Task.FromResult(Next(Calls));
        }
    }

    private sealed class FixedLimiter(RateLimitLease lease) : IProviderRateLimiter
    {
        public Task<RateLimitLease> AcquireAsync(string provider, TimeSpan maxWait, CancellationToken ct) => Task.FromResult(lease);
    }
}
