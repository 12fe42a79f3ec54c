using Notifications.Tasks;
using StackExchange.Redis;

namespace Notifications.Queue;

/// <summary>
/// The Redis keys of one queue. All share the hash tag <c>{name}</c>: Lua scripts touch several at
/// once, which Redis Cluster allows only within one slot.
/// </summary>
/// <remarks>
/// Each priority is a lane with its own pending list (LPUSH in, RPOP out), retry schedule (sorted
/// set by due time) and lease set (sorted set by lease deadline). Task bodies live in one hash,
/// which costs far less memory per task than a key per task.
/// </remarks>
public sealed class QueueKeys
{
    public const int LaneCount = 3;

    public QueueKeys(string name)
    {
        Name = name;
        var prefix = "{" + name + "}:";
        Tasks = prefix + "task";
        LeaseOwners = prefix + "lease";
        SentMarkers = prefix + "sent";
        Dead = prefix + "dead";
        DeadErrors = prefix + "dead-error";
        Recoveries = prefix + "recoveries";
        Stats = prefix + "stats";
        IdempotencyPrefix = prefix + "idem:";
        ThroughputPrefix = prefix + "done:";
        Pending = new RedisKey[LaneCount];
        Scheduled = new RedisKey[LaneCount];
        Leased = new RedisKey[LaneCount];
        for (var lane = 0; lane < LaneCount; lane++)
        {
            Pending[lane] = prefix + "pending:" + lane;
            Scheduled[lane] = prefix + "scheduled:" + lane;
            Leased[lane] = prefix + "leased:" + lane;
        }
        WakeChannel = RedisChannel.Literal(prefix + "wake");
    }

    public string Name { get; }

    /// <summary>Hash: task id → task JSON, for every task not yet completed.</summary>
    public RedisKey Tasks { get; }

    /// <summary>Hash: task id → token of the consumer holding its lease.</summary>
    public RedisKey LeaseOwners { get; }

    /// <summary>Hash: task id → time its send succeeded, kept until the task is acknowledged.</summary>
    public RedisKey SentMarkers { get; }

    /// <summary>Sorted set: dead-lettered task id → time it died.</summary>
    public RedisKey Dead { get; }

    /// <summary>Hash: dead-lettered task id → its last error, searched by the dead-letter view.</summary>
    public RedisKey DeadErrors { get; }

    /// <summary>Hash: task id → how often its lease expired and it was recovered (cleared when it completes).</summary>
    public RedisKey Recoveries { get; }

    /// <summary>Hash of running counters (enqueued, processed, failed, dead_lettered, ...).</summary>
    public RedisKey Stats { get; }

    public string IdempotencyPrefix { get; }

    /// <summary>Per-minute completion counters (<c>done:{unix minute}</c>), expiring after two hours.</summary>
    public string ThroughputPrefix { get; }

    public RedisKey[] Pending { get; }
    public RedisKey[] Scheduled { get; }
    public RedisKey[] Leased { get; }

    public RedisChannel WakeChannel { get; }

    /// <summary>Lanes are claimed in index order: high first, bulk last.</summary>
    public static int LaneOf(NotificationPriority priority) => priority switch
    {
        NotificationPriority.High => 0,
        NotificationPriority.Normal => 1,
        NotificationPriority.Bulk => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(priority), priority, "Unknown priority."),
    };

    public static NotificationPriority PriorityOf(int lane) => lane switch
    {
        0 => NotificationPriority.High,
        1 => NotificationPriority.Normal,
        2 => NotificationPriority.Bulk,
        _ => throw new ArgumentOutOfRangeException(nameof(lane), lane, "Unknown lane."),
    };

    public RedisKey Idempotency(string key) => IdempotencyPrefix + key;

    public RedisKey Throughput(long unixMinute) => ThroughputPrefix + unixMinute.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
