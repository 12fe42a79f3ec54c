using System.Diagnostics;
using System.Net.Http.Headers;
using Api.Tests.Infrastructure;
using Notifications.Testing;

namespace Api.Tests.Processes;

/// <summary>
/// The Api as its own operating-system process, from its build output, with the deployment's runtime settings
/// (Production, and the GC and JIT settings of its generated systemd unit), so a test can SIGKILL it or hold it to a memory limit.
/// Where the machine lets this process make a memory cgroup (v1 or v2), <see cref="StartAsync"/> with a limit runs
/// the Api inside one, as systemd's <c>MemoryMax</c> would.
/// </summary>
public sealed class ApiProcess : IDisposable
{
    private readonly Process _process;
    private readonly MemoryCgroup? _cgroup;

    private ApiProcess(Process process, Uri baseAddress, MemoryCgroup? cgroup)
    {
        _process = process;
        BaseAddress = baseAddress;
        _cgroup = cgroup;
    }

    public Uri BaseAddress { get; }

    /// <summary>The memory limit the Api runs under, or null where no cgroup could be made.</summary>
    public long? MemoryLimitBytes => _cgroup?.LimitBytes;

    public bool HasExited => _process.HasExited;

    /// <param name="environment">Production, as deployed; a test may run the same process as Development to compare.</param>
    public static async Task<ApiProcess> StartAsync(IReadOnlyDictionary<string, string> settings, long? memoryLimitBytes = null, string environment = "Production")
    {
        var port = FreePort();
        var cgroup = memoryLimitBytes is { } limit ? MemoryCgroup.TryCreate(limit) : null;
        // exec: the pid is dotnet's own, so a kill reaches the Api; the shell joins the cgroup first, so every byte counts.
        var info = new ProcessStartInfo("bash") { UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(RepositoryBuild.Assembly("Api"))! };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("""if [ -n "$1" ]; then echo $$ > "$1"; fi; exec dotnet "$0" >>"$2" 2>&1""");
        info.ArgumentList.Add(RepositoryBuild.Assembly("Api"));
        info.ArgumentList.Add(cgroup?.ProcsFile ?? "");
        info.ArgumentList.Add(Path.Combine(Path.GetTempPath(), $"api-process-{port}.log"));
        info.Environment["ASPNETCORE_ENVIRONMENT"] = environment;
        info.Environment["DOTNET_ENVIRONMENT"] = environment;
        foreach (var (key, value) in DeployedRuntime.Of("api").Environment)
        {
            info.Environment[key] = value;
        }
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        foreach (var (key, value) in settings)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("The Api did not start.");
        var api = new ApiProcess(process, new Uri($"http://127.0.0.1:{port}"), cgroup);
        try
        {
            await api.WaitUntilAliveAsync();
            return api;
        }
        catch
        {
            api.Dispose();
            throw;
        }
    }

    public HttpClient Client(string token) => new()
    {
        BaseAddress = BaseAddress,
        Timeout = TimeSpan.FromMinutes(2),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
    };

    /// <summary>The process's peak resident memory so far (VmHWM), from /proc.</summary>
    public long PeakRssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        throw new InvalidOperationException("/proc has no VmHWM for the Api.");
    }

    /// <summary>
    /// The Api's peak memory as systemd's MemoryMax counts it: the cgroup's peak charge (anonymous memory and the
    /// page cache it brought in) where it runs in one, else its peak resident set (VmHWM, which also counts shared
    /// library pages charged to others).
    /// </summary>
    public long PeakMemoryBytes() => _cgroup?.PeakBytes() ?? PeakRssBytes();

    /// <summary>Whether the kernel's OOM killer acted in the cgroup (v1 memory.oom_control, v2 memory.events).</summary>
    public bool WasOomKilled() => _cgroup?.OomKills() > 0;

    /// <summary>SIGKILL: no shutdown, nothing flushed.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        _cgroup?.Dispose();
    }

    private async Task WaitUntilAliveAsync()
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        await ServiceLiveness.WaitAsync(http, () => _process.HasExited, $"Api (log: {Path.Combine(Path.GetTempPath(), $"api-process-{BaseAddress.Port}.log")})");
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A memory cgroup below this process's own, v1 or v2, removed on dispose.</summary>
    private sealed class MemoryCgroup : IDisposable
    {
        private readonly string _path;
        private readonly bool _v2;

        private MemoryCgroup(string path, bool v2, long limitBytes) => (_path, _v2, LimitBytes) = (path, v2, limitBytes);

        public long LimitBytes { get; }

        public string ProcsFile => Path.Combine(_path, "cgroup.procs");

        public static MemoryCgroup? TryCreate(long limitBytes)
        {
            try
            {
                var lines = File.ReadAllLines("/proc/self/cgroup");
                var name = "api-test-" + Guid.NewGuid().ToString("N")[..8];
                if (lines.Select(l => l.Split(':', 3)).FirstOrDefault(p => p.Length == 3 && p[1].Split(',').Contains("memory")) is { } v1)
                {
                    var path = Path.Combine("/sys/fs/cgroup/memory" + v1[2], name);
                    Directory.CreateDirectory(path);
                    File.WriteAllText(Path.Combine(path, "memory.limit_in_bytes"), limitBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    return new MemoryCgroup(path, v2: false, limitBytes);
                }
                if (lines.FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal)) is { } unified
                    && File.ReadAllText("/sys/fs/cgroup/cgroup.controllers").Split(' ').Contains("memory"))
                {
                    var path = Path.Combine("/sys/fs/cgroup" + unified[3..], name);
                    Directory.CreateDirectory(path);
                    File.WriteAllText(Path.Combine(path, "memory.max"), limitBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    return new MemoryCgroup(path, v2: true, limitBytes);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Not allowed here (not root, or the controller is not delegated): the test runs without the limit.
            }
            return null;
        }

        public long PeakBytes() =>
            long.Parse(File.ReadAllText(Path.Combine(_path, _v2 ? "memory.peak" : "memory.max_usage_in_bytes")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

        public int OomKills()
        {
            var file = Path.Combine(_path, _v2 ? "memory.events" : "memory.oom_control");
            var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith("oom_kill ", StringComparison.Ordinal));
            return line is null ? 0 : int.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_path);
            }
            catch (IOException)
            {
                // A process still in it (it is being reaped); the kernel drops an empty cgroup on the next cleanup.
            }
        }
    }
}
