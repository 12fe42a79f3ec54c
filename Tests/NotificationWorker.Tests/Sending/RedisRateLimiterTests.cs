using Notifications.Tasks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NotificationWorker.Sending;
using NotificationWorker.Tests.Support;
using StackExchange.Redis;

namespace NotificationWorker.Tests.Sending;

/// <summary>The shared limit against Debian's redis-server 7.</summary>
public sealed class RedisRateLimiterOnRedisTests(RedisServerFixture redis) : RedisRateLimiterTests(redis), IClassFixture<RedisServerFixture>;

/// <summary>The same script against Garnet, whose Lua is 5.4 rather than Redis's 5.1.</summary>
public sealed class RedisRateLimiterOnGarnetTests(GarnetServerFixture garnet) : RedisRateLimiterTests(garnet), IClassFixture<GarnetServerFixture>;

/// <summary>The shared limit against a real server, as separate worker processes would use it.</summary>
public abstract class RedisRateLimiterTests(IRedisEndpoint redis)
{
    [Fact]
    public async Task Acquire_SpacesSlotsOneIntervalApart_AndRefusesSlotsBeyondTheMaxWait()
    {
        var provider = $"spacing-{Guid.NewGuid():N}";
        var time = new FakeTimeProvider(SenderHost.Start);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var limiter = new RedisRateLimiter(connection, Options.Create(new SendingOptions { RateLimits = { [provider] = new() { PerSecond = 10 } } }), time);
        var ct = TestContext.Current.CancellationToken;

        Assert.Equal(new RateLimitLease(true, TimeSpan.Zero), await limiter.AcquireAsync(provider, TimeSpan.FromMilliseconds(250), ct));
        Assert.Equal(new RateLimitLease(true, TimeSpan.FromMilliseconds(100)), await limiter.AcquireAsync(provider, TimeSpan.FromMilliseconds(250), ct));
        Assert.Equal(new RateLimitLease(true, TimeSpan.FromMilliseconds(200)), await limiter.AcquireAsync(provider, TimeSpan.FromMilliseconds(250), ct));
        Assert.Equal(new RateLimitLease(false, TimeSpan.FromMilliseconds(300)), await limiter.AcquireAsync(provider, TimeSpan.FromMilliseconds(250), ct));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(new RateLimitLease(true, TimeSpan.Zero), await limiter.AcquireAsync(provider, TimeSpan.Zero, ct));
        Assert.True(await connection.GetDatabase().KeyExistsAsync(RedisRateLimiter.KeyPrefix + provider));
    }

    [Fact]
    public async Task Acquire_AdmitsABurst_ThenSpacesTheRest()
    {
        var provider = $"burst-{Guid.NewGuid():N}";
        var time = new FakeTimeProvider(SenderHost.Start);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var limiter = new RedisRateLimiter(connection, Options.Create(new SendingOptions { RateLimits = { [provider] = new() { PerSecond = 10, Burst = 3 } } }), time);
        var ct = TestContext.Current.CancellationToken;

        var waits = new List<TimeSpan>();
        for (var i = 0; i < 5; i++)
        {
            waits.Add((await limiter.AcquireAsync(provider, TimeSpan.FromSeconds(1), ct)).Wait);
        }

        Assert.Equal([TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200)], waits);
    }

    [Fact]
    public async Task Acquire_IsUnlimited_ForProvidersWithoutALimit()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var limiter = new RedisRateLimiter(connection, Options.Create(new SendingOptions()), TimeProvider.System);

        Assert.Equal(RateLimitLease.Unlimited, await limiter.AcquireAsync(ProviderNames.Outbox, TimeSpan.Zero, TestContext.Current.CancellationToken));
    }
}
