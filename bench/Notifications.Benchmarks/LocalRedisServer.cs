using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Notifications.Benchmarks;

/// <summary>
/// The redis-server a benchmark runs against: the one named by <c>REDIS=host:port</c>, or a fresh
/// one on a free port with AOF everysec, removed afterwards.
/// </summary>
internal sealed class LocalRedisServer : IAsyncDisposable
{
    private readonly string? _directory;
    private readonly int _port;
    private Process? _process;

    private LocalRedisServer(string endpoint, string description, Process? process, string? directory, int port = 0)
    {
        Endpoint = endpoint;
        Description = description;
        _process = process;
        _directory = directory;
        _port = port;
    }

    public string Endpoint { get; }
    public string Description { get; }

    /// <summary>CPU time redis-server has used so far; zero for a server this program did not start.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            if (_process is null)
            {
                return TimeSpan.Zero;
            }
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public static async Task<LocalRedisServer> StartOrUseAsync(string? given)
    {
        if (!string.IsNullOrWhiteSpace(given))
        {
            return new LocalRedisServer(given, "given by REDIS", null, null);
        }
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var directory = Directory.CreateTempSubdirectory("bench-redis-").FullName;
        var endpoint = $"127.0.0.1:{port}";
        var process = await StartProcessAsync(port, directory);
        return new LocalRedisServer(endpoint, "own redis-server, appendonly yes, appendfsync everysec (as deploy/ubuntu/redis.conf)", process, directory, port);
    }

    /// <summary>SIGKILL, as a crash or the OOM killer would: whatever the AOF had not written is gone.</summary>
    public async Task KillAsync()
    {
        var process = _process ?? throw new InvalidOperationException("This program did not start that redis-server.");
        process.Kill();
        await process.WaitForExitAsync();
        process.Dispose();
        _process = null;
    }

    /// <summary>Starts redis-server again on the same port and directory: it loads the AOF it left.</summary>
    public async Task RestartAsync() =>
        _process = await StartProcessAsync(_port, _directory ?? throw new InvalidOperationException("This program did not start that redis-server."));

    private static async Task<Process> StartProcessAsync(int port, string directory)
    {
        var info = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", directory,
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction" })
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start (apt-get install redis-server).");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var endpoint = $"127.0.0.1:{port}";
        // Until it answers a PING: after a restart it is loading the AOF first.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var probe = await ConnectionMultiplexer.ConnectAsync($"{endpoint},connectTimeout=500");
                await probe.GetDatabase().PingAsync();
                return process;
            }
            catch (Exception e) when ((e is RedisException or TimeoutException) && attempt < 200 && !process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
