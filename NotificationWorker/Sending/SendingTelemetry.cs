using System.Diagnostics;
using System.Diagnostics.Metrics;
using Notifications.Tasks;

namespace NotificationWorker.Sending;

/// <summary>The send span and the per-provider counters; ServiceDefaults exports "Notifications.Worker".</summary>
public sealed class SendingTelemetry
{
    public const string Name = "Notifications.Worker";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Counter<long> _sent;
    private readonly Counter<long> _failed;
    private readonly Histogram<double> _latency;
    private readonly Counter<long> _deadLettered;

    public SendingTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        _sent = meter.CreateCounter<long>("notifications.provider.sent", "{message}", "Messages a provider accepted.");
        _failed = meter.CreateCounter<long>("notifications.provider.failed", "{message}", "Sends that failed, by kind (transient, permanent, throttled, circuit_open, exception).");
        _latency = meter.CreateHistogram<double>("notifications.provider.latency", "ms", "Time a provider took to answer a send.");
        _deadLettered = meter.CreateCounter<long>("notifications.provider.dead_lettered", "{task}", "Tasks given up on, by the provider of their last attempt.");
    }

    public void RecordSent(string provider, NotificationType channel) =>
        _sent.Add(1, new("provider", provider), new("channel", ChannelTag(channel)));

    public void RecordFailed(string provider, NotificationType channel, string kind) =>
        _failed.Add(1, new("provider", provider), new("channel", ChannelTag(channel)), new("kind", kind));

    public void RecordLatency(string provider, NotificationType channel, TimeSpan elapsed) =>
        _latency.Record(elapsed.TotalMilliseconds, new("provider", provider), new("channel", ChannelTag(channel)));

    public void RecordDeadLettered(string provider, NotificationType channel) =>
        _deadLettered.Add(1, new("provider", provider), new("channel", ChannelTag(channel)));

    internal static string ChannelTag(NotificationType channel) => channel == NotificationType.Sms ? "sms" : "email";
}
