using System.Diagnostics;

namespace Notifications.Benchmarks.Chaos;

/// <summary>
/// One of the product's services (the Api or a worker) as its own process, from its Release build,
/// configured through environment variables as systemd would, its output appended to a log file.
/// </summary>
internal sealed class ServiceProcess : IDisposable
{
    private readonly string _assembly;
    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly string _log;
    private Process? _process;

    public ServiceProcess(string name, string assembly, IReadOnlyDictionary<string, string> settings, string logDirectory)
    {
        Name = name;
        _assembly = File.Exists(assembly) ? assembly : throw new FileNotFoundException($"Build {name} in Release first (bench/chaos.sh does).", assembly);
        _settings = settings;
        _log = Path.Combine(logDirectory, name + ".log");
    }

    public string Name { get; }

    public int Starts { get; private set; }

    /// <summary>The running process (dotnet's own pid: the shell execs it), or null when stopped.</summary>
    public Process? Current => _process;

    public void Start()
    {
        // exec: the pid is dotnet's own, so a kill reaches the service and not a shell in front of it.
        var info = new ProcessStartInfo("bash") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec dotnet \"$0\" >>\"$1\" 2>&1");
        info.ArgumentList.Add(_assembly);
        info.ArgumentList.Add(_log);
        foreach (var (key, value) in _settings)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        _process = Process.Start(info) ?? throw new InvalidOperationException($"{Name} did not start.");
        Starts++;
    }

    /// <summary>SIGKILL: no shutdown, no lease released, nothing flushed.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit();
        }
        _process?.Dispose();
        _process = null;
    }

    public bool HasExited => _process is null || _process.HasExited;

    public void Dispose() => Kill();
}
