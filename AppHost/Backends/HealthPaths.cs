namespace AppHost.Backends;

/// <summary>The probe paths every service maps through ServiceDefaults.</summary>
internal static class HealthPaths
{
    public const string Health = "/health";
}
