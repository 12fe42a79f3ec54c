namespace Web.Dashboard.Services;

/// <summary>How a measured value stands against its alert threshold, as the Api judges it.</summary>
public enum ThresholdLevel
{
    Unknown,
    Green,
    Amber,
    Red,
}

public static class ThresholdLevels
{
    public static ThresholdLevel Parse(string? level) => level?.Trim().ToUpperInvariant() switch
    {
        "GREEN" => ThresholdLevel.Green,
        "AMBER" => ThresholdLevel.Amber,
        "RED" => ThresholdLevel.Red,
        _ => ThresholdLevel.Unknown,
    };

    public static string CssClass(ThresholdLevel level) => "level-" + level.ToString().ToLowerInvariant();

    /// <summary>Health statuses of ASP.NET Core health checks, on the same three colours.</summary>
    public static ThresholdLevel FromHealthStatus(string? status) => status?.Trim().ToUpperInvariant() switch
    {
        "HEALTHY" => ThresholdLevel.Green,
        "DEGRADED" => ThresholdLevel.Amber,
        "UNHEALTHY" => ThresholdLevel.Red,
        _ => ThresholdLevel.Unknown,
    };
}
