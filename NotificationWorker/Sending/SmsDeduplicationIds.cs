using StackExchange.Redis;

namespace NotificationWorker.Sending;

/// <summary>
/// Gives each task the BulkSMS <c>deduplication-id</c> it keeps across its retries. BulkSMS declares the
/// parameter a 32-bit integer and drops a second submission with the same id for about 12 hours, so
/// two tasks must never share one within that window: a hash of the task id into 31 bits would (about
/// 2% of the time within 10,000 messages) make BulkSMS silently drop a different student's SMS. A
/// counter does not collide until it wraps after two billion sends.
/// </summary>
public sealed class SmsDeduplicationIds(IConnectionMultiplexer redis)
{
    /// <summary>The id outlives BulkSMS's window of about 12 hours, then expires by itself.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(13);

    // One hash tag for the counter and the per-task ids, so the script runs on Redis Cluster too.
    public const string KeyPrefix = "{bulksms}:";
    private static readonly RedisKey Counter = KeyPrefix + "dedup-counter";

    // KEYS: the task's id key, the counter. ARGV: lifetime in seconds. Returns the task's id, taking
    // the next counter value (1 .. 2^31-1, then round again) the first time.
    private const string Script = """
        local id = redis.call('GET', KEYS[1])
        if id then return tonumber(id) end
        id = redis.call('INCR', KEYS[2])
        if id > 2147483647 then
          redis.call('SET', KEYS[2], 1)
          id = 1
        end
        redis.call('SET', KEYS[1], id, 'EX', ARGV[1])
        return id
        """;

    public static RedisKey KeyOf(string taskId) => KeyPrefix + "dedup:" + taskId;

    /// <summary>The task's id: the same on every call within <see cref="Lifetime"/>, positive, within int32.</summary>
    /// <exception cref="RedisException">Redis did not answer: the caller must not send without an id.</exception>
    public async Task<int> ForTaskAsync(string taskId)
    {
        var id = await redis.GetDatabase().ScriptEvaluateAsync(Script, [KeyOf(taskId), Counter], [(long)Lifetime.TotalSeconds]);
        return (int)(long)id;
    }
}
