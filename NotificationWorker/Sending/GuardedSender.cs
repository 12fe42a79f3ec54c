using System.Diagnostics;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;
using Notifications.Monitoring;
using Notifications.Tasks;

namespace NotificationWorker.Sending;

/// <summary>
/// Wraps a provider sender with what every provider needs: a circuit breaker, the shared rate
/// limit, the send span and the metrics. This is what <see cref="MessageSenders"/> hands out.
/// </summary>
public sealed partial class GuardedSender : IMessageSender
{
    private static readonly TimeSpan RateLimiterOutageRetryAfter = TimeSpan.FromSeconds(5);

    private readonly IMessageSender _inner;
    private readonly IProviderRateLimiter? _rateLimiter;
    private readonly TimeSpan _maxRateLimitWait;
    private readonly SendingTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline<Attempt> _breaker;
    private readonly CircuitBreakerStateProvider _circuit = new();
    private readonly TimeSpan _breakDuration;
    private readonly TimeSpan _refusalRetryAfter;
    private readonly int _identicalRefusalLimit;
    private readonly ProviderCircuits? _circuits;
    private readonly ILogger _logger;
    private readonly Lock _refusalGate = new();
    private (string Error, string Recipient, int Count)? _lastRefusal;

    public GuardedSender(
        IMessageSender inner,
        IProviderRateLimiter? rateLimiter,
        SendingOptions options,
        SendingTelemetry telemetry,
        TimeProvider time,
        ILogger logger,
        ProviderCircuits? circuits = null)
    {
        _inner = inner;
        _circuits = circuits;
        _logger = logger;
        _refusalRetryAfter = options.ConfigurationFaultRetryAfter;
        _rateLimiter = rateLimiter;
        _maxRateLimitWait = options.MaxRateLimitWait;
        _telemetry = telemetry;
        _time = time;

        var settings = options.CircuitBreaker;
        _breakDuration = settings.BreakDuration;
        _identicalRefusalLimit = settings.IdenticalRefusalLimit;
        _breaker = new ResiliencePipelineBuilder<Attempt> { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<Attempt>
            {
                FailureRatio = settings.FailureRatio,
                MinimumThroughput = settings.MinimumThroughput,
                SamplingDuration = settings.SamplingDuration,
                BreakDuration = settings.BreakDuration,
                StateProvider = _circuit,
                // Only answers that suggest the provider is unwell, or refuses our requests as a whole,
                // count: a permanent failure is about one message, and a send the rate limiter held
                // back never reached the provider.
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Result is { ReachedProvider: true, Result: SendResult.TransientFailure or SendResult.RequestRefused }),
                OnOpened = args =>
                {
                    LogCircuitOpened(logger, inner.Name, args.BreakDuration);
                    var reason = args.Outcome.Result.Result switch
                    {
                        SendResult.TransientFailure t => t.Error,
                        SendResult.RequestRefused r => r.Error,
                        _ => "repeated failures",
                    };
                    var now = time.GetUtcNow();
                    // Held a little past the break: the half-open probe re-opens it (and renews this) if it fails.
                    Report(_circuits?.ReportOpenAsync(new ProviderCircuit(inner.Name, now, now + args.BreakDuration * 2, reason)));
                    return default;
                },
                OnClosed = _ =>
                {
                    LogCircuitClosed(logger, inner.Name);
                    Report(_circuits?.ReportClosedAsync(inner.Name));
                    return default;
                },
            })
            .Build();
    }

    public string Name => _inner.Name;

    public NotificationType Channel => _inner.Channel;

    public async Task<SendResult> SendAsync(OutgoingMessage message, CancellationToken ct)
    {
        using var activity = SendingTelemetry.ActivitySource.StartActivity($"send {Name}", ActivityKind.Client);
        activity?.SetTag("notification.task_id", message.TaskId);
        activity?.SetTag("notification.channel", SendingTelemetry.ChannelTag(Channel));
        activity?.SetTag("notification.provider", Name);

        SendResult result;
        string? failureKind;
        try
        {
            var attempt = await _breaker.ExecuteAsync(static (state, token) => state.self.AttemptAsync(state.message, token), (self: this, message), ct);
            result = attempt.Result;
            failureKind = attempt.ReachedProvider ? null : "throttled";
            if (result is SendResult.TransientFailure failure && _circuit.CircuitState is CircuitState.Open or CircuitState.Isolated)
            {
                // This failure opened (or, as the half-open probe, re-opened) the circuit: the provider
                // is down, not this message. Defer it like the sends the open circuit holds back, so a
                // long outage does not use up the retries of the tasks that happen to probe it.
                result = new SendResult.Deferred(Name, failure.Error, failure.RetryAfter ?? _breakDuration);
                failureKind = "circuit_open";
            }
        }
        catch (BrokenCircuitException e)
        {
            result = new SendResult.Deferred(Name, $"{Name} circuit is open after repeated failures", e.RetryAfter ?? TimeSpan.FromSeconds(1));
            failureKind = "circuit_open";
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _telemetry.RecordFailed(Name, Channel, "exception");
            activity?.AddException(e);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            throw;
        }

        Record(activity, result, failureKind);
        return result;
    }

    private async ValueTask<Attempt> AttemptAsync(OutgoingMessage message, CancellationToken ct)
    {
        if (_rateLimiter is not null)
        {
            RateLimitLease lease;
            try
            {
                lease = await _rateLimiter.AcquireAsync(Name, _maxRateLimitWait, ct);
            }
            catch (RedisException e)
            {
                // Without the shared budget we cannot know whether sending would exceed it: wait for Redis.
                return new Attempt(new SendResult.Deferred(Name, $"rate limiter unavailable: {e.Message}", RateLimiterOutageRetryAfter), ReachedProvider: false);
            }

            if (!lease.Acquired)
            {
                return new Attempt(new SendResult.Deferred(Name, $"{Name} rate limit reached", lease.Wait), ReachedProvider: false);
            }

            if (lease.Wait > TimeSpan.Zero)
            {
                await Task.Delay(lease.Wait, _time, ct);
            }
        }

        var started = _time.GetTimestamp();
        var result = await _inner.SendAsync(message, ct);
        _telemetry.RecordLatency(Name, Channel, _time.GetElapsedTime(started));
        return new Attempt(TakeRepeatedRefusalAsOurs(result, message), ReachedProvider: true);
    }

    /// <summary>
    /// The same refusal, word for word, for several different recipients in a row is about our request,
    /// not about them (a sender that misread a provider's 400 would otherwise dead-letter every task
    /// one by one): from the <see cref="CircuitBreakerSettings.IdenticalRefusalLimit"/>th on it is
    /// postponed like a refused request, and opens the circuit.
    /// </summary>
    private SendResult TakeRepeatedRefusalAsOurs(SendResult result, OutgoingMessage message)
    {
        lock (_refusalGate)
        {
            if (result is not SendResult.PermanentFailure permanent)
            {
                if (result is SendResult.Sent)
                {
                    _lastRefusal = null;
                }
                return result;
            }
            var count = _lastRefusal is { } last && last.Error == permanent.Error
                ? last.Recipient == message.Recipient ? last.Count : last.Count + 1
                : 1;
            _lastRefusal = (permanent.Error, message.Recipient, count);
            return count >= _identicalRefusalLimit
                ? new SendResult.RequestRefused(Name, $"{permanent.Error} (the same refusal for {count} recipients in a row: taken as our request's fault)", _refusalRetryAfter)
                : result;
        }
    }

    private void Report(Task? report)
    {
        report?.ContinueWith(t => LogCircuitReportFailed(_logger, Name, t.Exception!), CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    private void Record(Activity? activity, SendResult result, string? failureKind)
    {
        switch (result)
        {
            case SendResult.Sent sent:
                _telemetry.RecordSent(Name, Channel);
                activity?.SetTag("notification.outcome", "sent");
                activity?.SetTag("notification.provider_message_id", sent.ProviderMessageId);
                break;
            case SendResult.TransientFailure transient:
                _telemetry.RecordFailed(Name, Channel, failureKind ?? "transient");
                activity?.SetTag("notification.outcome", failureKind ?? "transient");
                activity?.SetTag("notification.retry_after_ms", transient.RetryAfter?.TotalMilliseconds);
                activity?.SetStatus(ActivityStatusCode.Error, transient.Error);
                break;
            case SendResult.Deferred deferred:
                _telemetry.RecordFailed(Name, Channel, failureKind ?? "deferred");
                activity?.SetTag("notification.outcome", failureKind ?? "deferred");
                activity?.SetTag("notification.retry_after_ms", deferred.RetryAfter.TotalMilliseconds);
                break;
            case SendResult.RequestRefused refused:
                _telemetry.RecordFailed(Name, Channel, failureKind ?? "refused");
                activity?.SetTag("notification.outcome", failureKind ?? "refused");
                activity?.SetStatus(ActivityStatusCode.Error, refused.Error);
                break;
            case SendResult.PermanentFailure permanent:
                _telemetry.RecordFailed(Name, Channel, "permanent");
                activity?.SetTag("notification.outcome", "permanent");
                activity?.SetStatus(ActivityStatusCode.Error, permanent.Error);
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Circuit for {Provider} opened for {BreakDuration} after repeated failures; sends wait instead of calling it")]
    private static partial void LogCircuitOpened(ILogger logger, string provider, TimeSpan breakDuration);

    [LoggerMessage(Level = LogLevel.Information, Message = "Circuit for {Provider} closed: the provider answers again")]
    private static partial void LogCircuitClosed(ILogger logger, string provider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not report the circuit state of {Provider} to Redis")]
    private static partial void LogCircuitReportFailed(ILogger logger, string provider, Exception exception);

    private readonly record struct Attempt(SendResult Result, bool ReachedProvider);
}
