using System.Net;
using System.Net.Sockets;
using Garnet;
using StackExchange.Redis;

namespace NotificationWorker.Tests.Support;

/// <summary>Garnet in this test process with Lua on: the embedded default when there is no Redis.</summary>
public sealed class GarnetServerFixture : IRedisEndpoint, IAsyncLifetime
{
    private GarnetServer? _server;

    public string ConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        _server = new GarnetServer(["--bind", "127.0.0.1", "--port", port.ToString(), "--lua", "--memory", "64m", "--index", "16m"]);
        _server.Start();
        ConnectionString = $"127.0.0.1:{port},abortConnect=false";
        await using var probe = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
        await probe.GetDatabase().PingAsync();
    }

    public ValueTask DisposeAsync()
    {
        _server?.Dispose();
        return ValueTask.CompletedTask;
    }
}

public interface IRedisEndpoint
{
    string ConnectionString { get; }
}
