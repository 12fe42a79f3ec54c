using Notifications.Tests.Infrastructure;

namespace NotificationWorker.Tests.Support;

/// <summary>A Redis-protocol server a test class talks to through a connection string.</summary>
public interface IRedisEndpoint
{
    string ConnectionString { get; }
}

/// <summary>A throwaway Debian redis-server (the shared <see cref="RedisServerProcess"/>), one per test class.</summary>
public sealed class RedisServerFixture : IRedisEndpoint, IAsyncLifetime
{
    private RedisServerProcess? _server;

    public string ConnectionString => $"{_server!.Endpoint},abortConnect=false";

    public async ValueTask InitializeAsync() => _server = await RedisServerProcess.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>Garnet in this test process with Lua on: the embedded default when there is no Redis.</summary>
public sealed class GarnetServerFixture : IRedisEndpoint, IAsyncLifetime
{
    private GarnetTestServer? _server;

    public string ConnectionString => $"{_server!.Endpoint},abortConnect=false";

    public async ValueTask InitializeAsync() => _server = await GarnetTestServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
