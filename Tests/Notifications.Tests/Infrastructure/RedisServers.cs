using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Garnet;
using StackExchange.Redis;

namespace Notifications.Tests.Infrastructure;

/// <summary>A Redis-protocol server the tests own: Debian's redis-server or an in-process Garnet.</summary>
public interface ITestRedisServer : IAsyncDisposable
{
    string Endpoint { get; }
    bool ReportsUsedMemory { get; }
}

/// <summary>Starts Debian's <c>redis-server</c> on a free loopback port, without persistence unless asked.</summary>
public sealed class RedisServerProcess : ITestRedisServer
{
    public const string Binary = "/usr/bin/redis-server";
    private readonly Process _process;
    private int _disposed;

    private RedisServerProcess(Process process, int port, string directory)
    {
        _process = process;
        Port = port;
        Directory = directory;
    }

    public int Port { get; }
    public string Directory { get; }
    public string Endpoint => $"127.0.0.1:{Port}";
    public bool ReportsUsedMemory => true;

    public static async Task<RedisServerProcess> StartAsync(bool appendOnly = false, int? port = null, string? directory = null)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"{Binary} is missing: install the redis-server package (.ci/run does).");
        }
        var chosenPort = port ?? FreePort();
        var dir = directory ?? System.IO.Directory.CreateTempSubdirectory("redis-test-").FullName;
        var info = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--port", chosenPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
            "--appendonly", appendOnly ? "yes" : "no", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction", "--daemonize", "no" })
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start.");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServerProcess(process, chosenPort, dir);
        await WaitUntilAnswersAsync(server.Endpoint, process);
        return server;
    }

    /// <summary>Stops the server; a second call (a test stopped it, then its host disposes it) does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    internal static async Task WaitUntilAnswersAsync(string endpoint, Process? process = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var probe = await ConnectionMultiplexer.ConnectAsync($"{endpoint},connectTimeout=500,abortConnect=true");
                await probe.GetDatabase().PingAsync();
                return;
            }
            // A server still loading its AOF answers LOADING (a server error); a starved one may time out.
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or RedisServerException && DateTime.UtcNow < deadline && process?.HasExited != true)
            {
                await Task.Delay(50);
            }
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Garnet in this test process, with Lua on (the queue's scripts need it).</summary>
public sealed class GarnetTestServer : ITestRedisServer
{
    private readonly GarnetServer _server;

    private GarnetTestServer(GarnetServer server, int port)
    {
        _server = server;
        Endpoint = $"127.0.0.1:{port}";
    }

    public string Endpoint { get; }

    /// <summary>Garnet's INFO memory has no used_memory.</summary>
    public bool ReportsUsedMemory => false;

    public static async Task<GarnetTestServer> StartAsync()
    {
        var port = RedisServerProcess.FreePort();
        var server = new GarnetServer(["--bind", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--lua", "--memory", "256m", "--index", "32m"]);
        server.Start();
        var garnet = new GarnetTestServer(server, port);
        await RedisServerProcess.WaitUntilAnswersAsync(garnet.Endpoint);
        return garnet;
    }

    public ValueTask DisposeAsync()
    {
        _server.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>One server per test class (xUnit class fixture); each test uses its own queue name.</summary>
public abstract class RedisServerFixture : IAsyncLifetime
{
    public ITestRedisServer Server { get; private set; } = null!;
    public ConnectionMultiplexer Connection { get; private set; } = null!;

    protected abstract Task<ITestRedisServer> StartServerAsync();

    public async ValueTask InitializeAsync()
    {
        Server = await StartServerAsync();
        Connection = await ConnectionMultiplexer.ConnectAsync($"{Server.Endpoint},allowAdmin=true");
    }

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        await Server.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

public sealed class RedisFixture : RedisServerFixture
{
    protected override async Task<ITestRedisServer> StartServerAsync() => await RedisServerProcess.StartAsync();
}

public sealed class GarnetFixture : RedisServerFixture
{
    protected override async Task<ITestRedisServer> StartServerAsync() => await GarnetTestServer.StartAsync();
}
