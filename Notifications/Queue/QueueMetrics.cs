using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Notifications.Queue;

/// <summary>The queue's OpenTelemetry meter and activity source, named in ServiceDefaults' product telemetry.</summary>
public sealed class QueueMetrics : IDisposable
{
    public const string MeterName = "Notifications.Queue";

    public static readonly ActivitySource ActivitySource = new(MeterName);

    private readonly Meter _meter;
    private readonly Counter<long> _enqueued;
    private readonly Counter<long> _processed;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _deadLettered;
    private readonly Counter<long> _deadEvicted;
    private readonly Histogram<double> _endToEnd;
    private QueueStats? _lastStats;

    public QueueMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _enqueued = _meter.CreateCounter<long>("notifications.queue.enqueued", "{task}", "Tasks added to the queue.");
        _processed = _meter.CreateCounter<long>("notifications.queue.processed", "{task}", "Tasks completed.");
        _failed = _meter.CreateCounter<long>("notifications.queue.failed", "{attempt}", "Failed attempts.");
        _deadLettered = _meter.CreateCounter<long>("notifications.queue.dead_lettered", "{task}", "Tasks moved to the dead letters.");
        _deadEvicted = _meter.CreateCounter<long>("notifications.queue.dead_evicted", "{task}", "Dead letters removed by the caps on their age and count.");
        _endToEnd = _meter.CreateHistogram<double>("notifications.queue.end_to_end", "s", "From enqueue to completion.");
        _meter.CreateObservableGauge("notifications.queue.depth", ObserveDepth, "{task}", "Tasks per state, from the last stats read.");
        _meter.CreateObservableGauge("notifications.queue.oldest_pending_age", () => _lastStats?.OldestPendingAge?.TotalSeconds ?? 0, "s", "Age of the oldest pending task.");
    }

    public void Enqueued(int count) => _enqueued.Add(count);

    public void Processed(int count) => _processed.Add(count);

    public void Failed() => _failed.Add(1);

    public void DeadLettered(int count = 1) => _deadLettered.Add(count);

    public void DeadEvicted(int count) => _deadEvicted.Add(count);

    public void Completed(DateTimeOffset queuedAt, DateTimeOffset now) => _endToEnd.Record((now - queuedAt).TotalSeconds);

    /// <summary>Gauges report the latest stats that anything in this process read.</summary>
    public void Observe(QueueStats stats) => _lastStats = stats;

    private IEnumerable<Measurement<long>> ObserveDepth()
    {
        if (_lastStats is not { } stats)
        {
            yield break;
        }
        foreach (var lane in stats.Lanes)
        {
            var priority = new KeyValuePair<string, object?>("priority", lane.Priority.ToString().ToLowerInvariant());
            yield return new Measurement<long>(lane.Pending, new("state", "pending"), priority);
            yield return new Measurement<long>(lane.Scheduled, new("state", "scheduled"), priority);
            yield return new Measurement<long>(lane.Leased, new("state", "leased"), priority);
        }
        yield return new Measurement<long>(stats.Dead, new KeyValuePair<string, object?>("state", "dead"));
    }

    public void Dispose() => _meter.Dispose();
}
