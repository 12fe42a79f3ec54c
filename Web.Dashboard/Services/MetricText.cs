using System.Globalization;

namespace Web.Dashboard.Services;

/// <summary>How numbers read on the dashboard: bytes in MB or GB, counts with separators, ages in words.</summary>
public static class MetricText
{
    private const double Megabyte = 1024 * 1024;
    private const double Gigabyte = Megabyte * 1024;

    public static string Amount(double? value, string unit)
    {
        if (value is not { } v)
        {
            return "not measured";
        }
        return unit.Equals("bytes", StringComparison.OrdinalIgnoreCase) ? Bytes(v) : Count(v);
    }

    public static string Bytes(double bytes) => bytes >= Gigabyte
        ? (bytes / Gigabyte).ToString("0.0", CultureInfo.InvariantCulture) + " GB"
        : (bytes / Megabyte).ToString("0", CultureInfo.InvariantCulture) + " MB";

    public static string Count(double count) => count.ToString("#,0", CultureInfo.InvariantCulture);

    public static string Age(TimeSpan? age) => age switch
    {
        null => "none waiting",
        { TotalSeconds: < 1 } => "under a second",
        { TotalMinutes: < 1 } a => $"{(int)a.TotalSeconds} s",
        { TotalHours: < 1 } a => $"{(int)a.TotalMinutes} min {a.Seconds} s",
        { TotalDays: < 1 } a => $"{(int)a.TotalHours} h {a.Minutes} min",
        { } a => $"{(int)a.TotalDays} d {a.Hours} h",
    };

    public static string Percent(double ratio) => ratio.ToString("0.0%", CultureInfo.InvariantCulture);

    /// <summary>The Api's metric names as an operator reads them.</summary>
    /// <summary>The Api names an open provider circuit's alert <c>provider_circuit:{provider}</c>.</summary>
    private const string ProviderCircuitPrefix = "provider_circuit:";

    public static string MetricTitle(string name) => name switch
    {
        "redis-memory" => "Redis memory",
        "app-memory" => "Application memory",
        "disk" => "Disk",
        "pending" => "Pending tasks",
        _ when name.StartsWith(ProviderCircuitPrefix, StringComparison.Ordinal) => $"Provider {name[ProviderCircuitPrefix.Length..]} held back",
        _ => name,
    };

    public static string Time(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
