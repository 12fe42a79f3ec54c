using System.ComponentModel.DataAnnotations;

namespace Api.Monitoring;

/// <summary>The <c>Monitoring</c> section: the old plan's alert thresholds and who gets alert emails.</summary>
public sealed class MonitoringOptions
{
    public const string SectionName = "Monitoring";
    private const long MB = 1024 * 1024;
    private const long GB = 1024 * MB;

    [Required]
    public MetricThresholds Thresholds { get; set; } = new();

    /// <summary>Addresses that get an alert email when a metric turns red.</summary>
    public List<string> AdminEmails { get; set; } = [];

    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan AlertCheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>One alert email per metric at most this often.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan AlertCooldown { get; set; } = TimeSpan.FromMinutes(30);

    public sealed class MetricThresholds
    {
        [Range(1, long.MaxValue)] public long RedisMemoryBytes { get; set; } = 400 * MB;
        [Range(1, long.MaxValue)] public long RedisMemoryCapacityBytes { get; set; } = 512 * MB;
        [Range(1, long.MaxValue)] public long AppMemoryBytes { get; set; } = 800 * MB;
        [Range(1, long.MaxValue)] public long AppMemoryCapacityBytes { get; set; } = 1 * GB;
        [Range(1, long.MaxValue)] public long DiskBytes { get; set; } = 12 * GB;
        [Range(1, long.MaxValue)] public long DiskCapacityBytes { get; set; } = 16 * GB;
        [Range(1, long.MaxValue)] public long PendingTasks { get; set; } = 1000;

        /// <summary>Share of a threshold at which a metric turns amber.</summary>
        [Range(0.01, 1.0)] public double AmberRatio { get; set; } = 0.8;
    }
}
