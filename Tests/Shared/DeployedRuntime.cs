using System.Globalization;

namespace Notifications.Testing;

/// <summary>
/// The runtime a service gets on the VM, read from its generated systemd unit in <c>deploy/ubuntu/systemd</c>:
/// the unit's <c>Environment=</c> settings (GC mode, heap hard limit, JIT settings) and its <c>MemoryMax</c>.
/// Tests and benchmarks that start a service as its own process read them here rather than keep a copy of the
/// numbers, so what they measure is what the VM runs.
/// </summary>
public sealed record DeployedRuntime(IReadOnlyDictionary<string, string> Environment, long MemoryMaxBytes)
{
    /// <summary>The unit of <paramref name="service"/> (<c>api</c>, <c>notification-worker</c>, <c>web-dashboard</c>).</summary>
    public static DeployedRuntime Of(string service)
    {
        var unit = Path.Combine(RepositoryBuild.Root(), "deploy", "ubuntu", "systemd", $"notification-pipeline-{service}.service");
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        long? memoryMax = null;
        foreach (var line in File.ReadLines(unit))
        {
            if (line.StartsWith("Environment=", StringComparison.Ordinal))
            {
                var (key, value) = Split(line["Environment=".Length..]);
                // HOME names the VM's state directory, which does not exist here.
                if (key != "HOME")
                {
                    environment[key] = value;
                }
            }
            else if (line.StartsWith("MemoryMax=", StringComparison.Ordinal))
            {
                memoryMax = Megabytes(line["MemoryMax=".Length..]);
            }
        }
        return new DeployedRuntime(environment, memoryMax ?? throw new InvalidDataException($"{unit} has no MemoryMax."));
    }

    private static (string Key, string Value) Split(string assignment)
    {
        var equals = assignment.IndexOf('=', StringComparison.Ordinal);
        return equals > 0 ? (assignment[..equals], assignment[(equals + 1)..]) : throw new InvalidDataException($"Not KEY=value: {assignment}");
    }

    private static long Megabytes(string value) => value.EndsWith('M')
        ? long.Parse(value[..^1], CultureInfo.InvariantCulture) * 1024 * 1024
        : throw new InvalidDataException($"MemoryMax={value} is not in megabytes (the generator writes <n>M).");
}
