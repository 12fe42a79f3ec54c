using System.Net;
using System.Net.Sockets;
using Garnet;
using Microsoft.Extensions.Hosting;

namespace AppHost.Backends;

/// <summary>
/// Garnet (a Redis-protocol server from Microsoft Research) hosted inside the AppHost process:
/// the queue and cache for machines with neither a Redis server nor a container runtime.
/// Lua is on because the queue's scripts need it; the append-only file (committed every second)
/// keeps queued notifications across AppHost restarts, as AOF everysec does for Redis in production.
/// </summary>
internal sealed class EmbeddedGarnet : IHostedService, IDisposable
{
    private readonly GarnetServer _server;
    private int _disposed;

    private EmbeddedGarnet(GarnetServer server, int port)
    {
        _server = server;
        Endpoint = $"127.0.0.1:{port}";
    }

    public string Endpoint { get; }

    public static EmbeddedGarnet Start(string dataDirectory, int port)
    {
        if (port == 0)
        {
            port = FreeLoopbackPort();
        }
        var server = new GarnetServer(
        [
            "--bind", "127.0.0.1",
            "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--lua",
            "--aof",
            "--aof-commit-freq", "1000",
            "--recover",
            "--storage-tier",
            "--checkpointdir", dataDirectory,
            "--logdir", dataDirectory,
            // The native device needs libaio, which not every distribution ships under the name it expects.
            "--device-type", "RandomAccess",
            // Development sizes: enough for hundreds of thousands of queued tasks, small beside the services.
            "--memory", "256m",
            "--index", "32m",
        ]);
        server.Start();
        return new EmbeddedGarnet(server, port);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    // The host may stop the service and then dispose it; Garnet throws on a second dispose.
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _server.Dispose();
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
