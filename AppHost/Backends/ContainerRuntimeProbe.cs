using System.Diagnostics;

namespace AppHost.Backends;

/// <summary>
/// Asks the container runtime Aspire would use whether its engine answers. A Docker CLI without
/// an engine (as on CI machines) counts as no runtime.
/// </summary>
internal static class ContainerRuntimeProbe
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(5);

    public static bool EngineAnswers(string? configuredRuntime)
    {
        var runtime = string.IsNullOrWhiteSpace(configuredRuntime) ? "docker" : configuredRuntime;
        try
        {
            using var process = Process.Start(new ProcessStartInfo(runtime, "info --format {{.ServerVersion}}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return false;
            }
            if (!process.WaitForExit(s_timeout))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }
            return process.ExitCode == 0 && process.StandardOutput.ReadToEnd().Trim().Length > 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // the CLI is not installed
        }
    }
}
