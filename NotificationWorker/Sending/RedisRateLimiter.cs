using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace NotificationWorker.Sending;

/// <param name="Acquired">True when a slot was reserved: send after <paramref name="Wait"/>.</param>
/// <param name="Wait">With a slot, how long to wait before sending; without, when to try again.</param>
public readonly record struct RateLimitLease(bool Acquired, TimeSpan Wait)
{
    public static readonly RateLimitLease Unlimited = new(true, TimeSpan.Zero);
}

/// <summary>Hands out send slots for a provider; every worker process shares the budget.</summary>
public interface IProviderRateLimiter
{
    /// <summary>Reserves the next slot if it comes within <paramref name="maxWait"/>, otherwise reserves nothing.</summary>
    Task<RateLimitLease> AcquireAsync(string provider, TimeSpan maxWait, CancellationToken ct);
}

/// <summary>
/// GCRA (the generic cell rate algorithm) over one Redis key per provider. The key holds the
/// theoretical arrival time (TAT) in microseconds; each admitted send pushes it one interval on.
/// The clock comes from the client's <see cref="TimeProvider"/>: the script uses only GET and SET,
/// which Redis 7 and Garnet both run, and stays testable.
/// </summary>
public sealed class RedisRateLimiter(IConnectionMultiplexer redis, IOptions<SendingOptions> options, TimeProvider time) : IProviderRateLimiter
{
    /// <summary>All limiter keys share one hash tag, so they live in one slot on a cluster.</summary>
    public const string KeyPrefix = "{ratelimit}:";

    // KEYS[1] = limiter key; ARGV = now, interval, burst tolerance, max wait (all integer microseconds).
    // Returns {1, wait} when a slot was reserved (send after wait), {0, wait} when the next slot is too far off.
    // string.format('%d') keeps 16-digit microsecond values exact: tostring would round them to 14 digits.
    private const string Script = """
        local now = tonumber(ARGV[1])
        local interval = tonumber(ARGV[2])
        local tolerance = tonumber(ARGV[3])
        local max_wait = tonumber(ARGV[4])
        local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
        if tat < now then tat = now end
        local wait = tat - tolerance - now
        if wait < 0 then wait = 0 end
        if wait > max_wait then return {0, wait} end
        local new_tat = tat + interval
        local ttl_ms = math.floor((new_tat - now) / 1000) + 1000
        redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', ttl_ms))
        return {1, wait}
        """;

    public async Task<RateLimitLease> AcquireAsync(string provider, TimeSpan maxWait, CancellationToken ct)
    {
        if (!options.Value.RateLimits.TryGetValue(provider, out var limit) || limit.PerSecond <= 0)
        {
            return RateLimitLease.Unlimited;
        }

        var intervalMicros = Math.Max(1L, (long)Math.Round(1_000_000 / limit.PerSecond));
        var toleranceMicros = intervalMicros * (limit.Burst - 1);
        var nowMicros = (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / 10;
        var maxWaitMicros = maxWait.Ticks / 10;

        ct.ThrowIfCancellationRequested();
        var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(
            Script,
            [new RedisKey(KeyPrefix + provider)],
            [nowMicros, intervalMicros, toleranceMicros, maxWaitMicros]))!;

        var acquired = (long)result[0] == 1;
        var wait = TimeSpan.FromTicks((long)result[1] * 10);
        return new RateLimitLease(acquired, wait);
    }
}
