namespace AppHost.Deployment;

/// <summary>
/// The memory of the 2 GB Ubuntu VM, split as the old plan did: Redis 512 MB, the application
/// (MongoDB and the three .NET services) 1 GB, the system 512 MB. Every generated limit
/// (Redis <c>maxmemory</c>, WiredTiger cache, systemd <c>MemoryMax</c>) comes from here.
/// </summary>
public static class VmMemoryBudget
{
    public const int TotalMegabytes = 2048;

    public const int RedisMaxMemoryMegabytes = 512;

    public const int MongoWiredTigerCacheMegabytes = 256;

    // mongod outside its cache: connections (about 1 MB each), index builds, journal and query buffers.
    public const int MongoOverheadMegabytes = 128;

    public const int ApiMemoryMaxMegabytes = 256;
    public const int NotificationWorkerMemoryMaxMegabytes = 192;
    public const int WebDashboardMemoryMaxMegabytes = 192;

    // Kernel, page cache for the AOF and WiredTiger files, sshd, nginx, journald, and the
    // copy-on-write pages of Redis' fork during BGSAVE and AOF rewrites.
    public const int MinimumSystemReserveMegabytes = 384;

    // The .NET GC heap gets three quarters of a unit's MemoryMax; the rest is code, stacks and native memory.
    public const int GcHeapPercentOfMemoryMax = 75;

    // The old plan's alert thresholds (80% of Redis' and of the application's share, 75% of the disk).
    public const int RedisMemoryAlertMegabytes = 400;
    public const int ApplicationMemoryAlertMegabytes = 800;
    public const int DiskAlertGigabytes = 12;
    public const int DiskGigabytes = 16;
    public const int PendingQueueAlert = 1000;

    public static MemoryBudget For(IEnumerable<VmService> services)
    {
        List<MemoryBudgetLine> lines =
        [
            new("Redis", RedisMaxMemoryMegabytes, "`maxmemory` in redis.conf (dataset; `noeviction`)"),
            new("MongoDB", MongoWiredTigerCacheMegabytes + MongoOverheadMegabytes,
                $"WiredTiger `cacheSizeGB` {MongoCacheSizeGigabytes} in mongod.conf + ~{MongoOverheadMegabytes} MB outside the cache"),
        ];
        lines.AddRange(services.Select(s => new MemoryBudgetLine(
            s.Name, s.MemoryMaxMegabytes, $"systemd `MemoryMax={s.MemoryMaxMegabytes}M`, GC heap hard limit {s.GcHeapHardLimitMegabytes} MB")));
        return new MemoryBudget(lines);
    }

    public static string MongoCacheSizeGigabytes =>
        (MongoWiredTigerCacheMegabytes / 1024m).ToString("0.0##", System.Globalization.CultureInfo.InvariantCulture);
}

public sealed record MemoryBudgetLine(string Component, int Megabytes, string EnforcedBy);

public sealed record MemoryBudget(IReadOnlyList<MemoryBudgetLine> Lines)
{
    public int AllocatedMegabytes => Lines.Sum(l => l.Megabytes);

    public int SystemReserveMegabytes => VmMemoryBudget.TotalMegabytes - AllocatedMegabytes;

    public bool Fits => SystemReserveMegabytes >= VmMemoryBudget.MinimumSystemReserveMegabytes;
}
