using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Web.Dashboard.Tests.EndToEnd;

/// <summary>
/// A throwaway Debian redis-server (the production server, Redis 7) on a free loopback port, without
/// persistence. It reports used_memory, which the embedded Garnet does not, so every gauge has a value.
/// </summary>
internal sealed class DebianRedisServer : IAsyncDisposable
{
    public const string ServerPath = "/usr/bin/redis-server";

    private readonly Process _process;

    private DebianRedisServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static async Task<DebianRedisServer> StartAsync(CancellationToken cancellationToken)
    {
        Assert.True(File.Exists(ServerPath), $"{ServerPath} is not installed (apt-get install redis-server).");
        var port = FreePort();
        var start = new ProcessStartInfo(ServerPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new DebianRedisServer(process, port);

        // Generous: on a loaded CI machine a cold redis-server start can take seconds.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},connectTimeout=500");
                await probe.GetDatabase().PingAsync();
                return server;
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or RedisServerException && DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
