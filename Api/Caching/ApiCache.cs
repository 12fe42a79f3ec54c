using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using ZiggyCreatures.Caching.Fusion;

namespace Api.Caching;

/// <summary>The <c>ApiCache</c> section: how long each cached read lives in Redis.</summary>
public sealed class ApiCacheOptions
{
    public const string SectionName = "ApiCache";

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan StudentsListTtl { get; set; } = TimeSpan.FromMinutes(5);

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ActiveFormsTtl { get; set; } = TimeSpan.FromMinutes(5);

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan FormAnalyticsTtl { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Forms and students read by submissions (see <see cref="RecordCache"/>).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan RecordTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// When an entry is removed a second time after a write, for a load that read the store just before it
    /// (see <see cref="ApiCache.InvalidateAsync"/> and <see cref="RecordCache.StudentsChangedAsync"/>).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan ReevictDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long an entry stays in this process's memory; other instances' writes reach it through the backplane.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan MemoryTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an entry that lives <paramref name="ttl"/> in Redis stays in memory: never longer than in Redis.</summary>
    public TimeSpan MemoryDurationFor(TimeSpan ttl) => ttl < MemoryTtl ? ttl : MemoryTtl;
}

/// <summary>
/// The old plan's cache keys. Only the first page of the students list (the page the old backend
/// cached) is cached, under the plain key: other pages are read from the store, so an upload has one
/// key to invalidate.
/// </summary>
public static class CacheKeys
{
    public const string StudentsList = "cache:api:students:list";
    public const string ActiveForms = "cache:api:forms:active";
    public static string FormAnalytics(string formId) => "cache:api:analytics:form_" + formId;

    // Not in the old plan: the records a submission reads, beside its keys.
    public static string FormRecord(string formId) => "cache:api:records:form_" + formId;
    public static string StudentRecord(string studentId) => "cache:api:records:student_" + studentId;
    public const string FormRecordsTag = "records:forms";
    public const string StudentRecordsTag = "records:students";

    public const string HitsCounter = "{monitoring}:cache:hits";
    public const string MissesCounter = "{monitoring}:cache:misses";
}

public sealed record CacheStats(long Hits, long Misses, double HitRate);

/// <summary>
/// Reads through FusionCache (this process's memory, then Redis, then the store), which lets one
/// caller load a missing entry while the others wait (no stampede). Hits and misses are counted in
/// Redis, so every Api instance adds to the same totals.
/// </summary>
public sealed class ApiCache
{
    private readonly IFusionCache _cache;
    private readonly IConnectionMultiplexer _redis;
    private readonly IOptions<ApiCacheOptions> _options;
    private readonly DelayedRemovals _secondRemovals;

    public ApiCache(IFusionCache cache, IConnectionMultiplexer redis, IOptions<ApiCacheOptions> options, TimeProvider time, ILogger<ApiCache> logger)
    {
        (_cache, _redis, _options) = (cache, redis, options);
        _secondRemovals = new DelayedRemovals(key => cache.RemoveAsync(key).AsTask(), options.Value.ReevictDelay, time, logger);
    }

    public async Task<T> GetOrLoadAsync<T>(string key, TimeSpan ttl, Func<CancellationToken, Task<T>> load, CancellationToken cancellationToken)
    {
        var loaded = false;
        var value = await _cache.GetOrSetAsync<T>(key, async (_, ct) =>
        {
            loaded = true;
            return await load(ct).ConfigureAwait(false);
        }, entry => entry.SetDuration(ttl).SetMemoryCacheDuration(_options.Value.MemoryDurationFor(ttl)), cancellationToken)
            .ConfigureAwait(false);
        Count(loaded ? CacheKeys.MissesCounter : CacheKeys.HitsCounter);
        return value;
    }

    /// <summary>
    /// Removes the entry everywhere (memory, Redis, other instances through the backplane); when this
    /// completes, the next read loads what the caller has just written. Each write removes on its own: sharing
    /// removals among a burst of writes to one key gained 10% of submissions/s in <c>bench/run.sh api</c>, under
    /// the 20% a batching mechanism must earn, and was removed. A load that
    /// read the store before the write and stores its value after this removal is removed by a second one
    /// <see cref="ApiCacheOptions.ReevictDelay"/> later (see <see cref="DelayedRemovals"/>).
    /// </summary>
    public async Task InvalidateAsync(string key, CancellationToken cancellationToken = default)
    {
        // First, so that neither a failed first removal nor a caller who goes away skips the second.
        _secondRemovals.Schedule(key);
        // Not cancelled with the caller: a write that has happened must not leave its stale entry behind.
        await _cache.RemoveAsync(key).AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<CacheStats> GetStatsAsync()
    {
        var counts = await _redis.GetDatabase().StringGetAsync([CacheKeys.HitsCounter, CacheKeys.MissesCounter]).ConfigureAwait(false);
        var hits = (long?)counts[0] ?? 0;
        var misses = (long?)counts[1] ?? 0;
        var total = hits + misses;
        return new CacheStats(hits, misses, total == 0 ? 0 : Math.Round((double)hits / total, 4));
    }

    private void Count(RedisKey counter)
    {
        if (_redis.IsConnected)
        {
            _redis.GetDatabase().StringIncrement(counter, flags: CommandFlags.FireAndForget);
        }
    }
}
