using System.ComponentModel.DataAnnotations;

namespace Notifications.Queue;

/// <summary>Settings of one notification queue, bound from the <c>NotificationQueue</c> section.</summary>
public sealed class QueueOptions
{
    public const string SectionName = "NotificationQueue";
    public const string DefaultName = "notifications";

    /// <summary>Every key of the queue lives under the hash tag <c>{Name}</c>, so one cluster slot holds them all.</summary>
    [Required, RegularExpression("^[A-Za-z0-9_.-]{1,64}$")]
    public string Name { get; set; } = DefaultName;

    /// <summary>How long a claimed task stays invisible without a heartbeat: the recovery time after a worker dies.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    [Range(typeof(TimeSpan), "00:00:00.100", "00:20:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a consumer recovers expired leases and promotes due retries, and polls when no wake-up came.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Handlers running at once in one consumer process.</summary>
    [Range(1, 10_000)]
    public int Concurrency { get; set; } = 16;

    /// <summary>Tasks claimed ahead of free handlers, so handlers never wait for a round trip.</summary>
    [Range(0, 10_000)]
    public int Prefetch { get; set; } = 16;

    /// <summary>Retries after the first attempt when a task names none (the old plan's <c>max_retries</c>).</summary>
    [Range(0, 100)]
    public int DefaultMaxRetries { get; set; } = 3;

    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(15);

    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Share of each retry delay that is random, so retries of one outage do not arrive together.</summary>
    [Range(0.0, 1.0)]
    public double RetryJitter { get; set; } = 0.5;

    /// <summary>One idempotency key enqueues once within this window.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// A task whose lease expires more often than this (its handler kills or stalls its worker each
    /// time) is dead-lettered with the reason instead of being recovered forever.
    /// </summary>
    [Range(1, 1000)]
    public int MaxRecoveries { get; set; } = 5;

    [Range(1, 1_000_000)]
    public int DeadLetterMaxCount { get; set; } = 10_000;

    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan DeadLetterMaxAge { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long a consumer waits for in-flight handlers at shutdown before releasing their tasks.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(20);
}
