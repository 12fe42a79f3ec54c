using Notifications.Tasks;

namespace Notifications.Queue;

/// <summary>A snapshot of the queue for the dashboard, the Api and the gauges.</summary>
public sealed record QueueStats
{
    public required IReadOnlyList<LaneStats> Lanes { get; init; }
    public required long Dead { get; init; }
    public required QueueCounters Counters { get; init; }

    /// <summary>Age of the oldest task waiting in any lane, or null when none waits.</summary>
    public TimeSpan? OldestPendingAge { get; init; }

    /// <summary>Completed tasks per minute for the last hour, oldest minute first.</summary>
    public required IReadOnlyList<MinuteThroughput> Throughput { get; init; }

    public long Pending => Lanes.Sum(l => l.Pending);
    public long Scheduled => Lanes.Sum(l => l.Scheduled);
    public long Leased => Lanes.Sum(l => l.Leased);
}

public sealed record LaneStats(NotificationPriority Priority, long Pending, long Scheduled, long Leased);

/// <summary>Running totals since the queue was created.</summary>
/// <param name="Poisoned">Tasks dead-lettered because they were recovered more than <see cref="QueueOptions.MaxRecoveries"/> times.</param>
/// <param name="DeadEvicted">Dead letters the caps removed (past <see cref="QueueOptions.DeadLetterMaxAge"/> or <see cref="QueueOptions.DeadLetterMaxCount"/>).</param>
public sealed record QueueCounters(long Enqueued, long Processed, long Failed, long Retried, long DeadLettered, long Recovered, long Revived, long Postponed,
    long Poisoned = 0, long DeadEvicted = 0);

public readonly record struct MinuteThroughput(DateTimeOffset Minute, long Completed);
