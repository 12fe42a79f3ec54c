namespace Notifications.Queue;

/// <summary>
/// The queue's Lua scripts. Each state change of a task is one script, so it is atomic: a task is
/// always in exactly one place (pending, leased, scheduled, dead) and never lost between two.
/// </summary>
/// <remarks>
/// Written for Redis 7.0 (Lua 5.1) and Garnet (Lua 5.4): <c>unpack</c> moved to <c>table.unpack</c>,
/// and only commands both servers have are used (no streams, no SET ... NX GET).
/// Variadic calls (one HSET for a whole batch) keep a batch of tasks to a handful of commands.
/// StackExchange.Redis sends these as EVALSHA after the first call.
/// </remarks>
internal static class QueueScripts
{
    private const string Prelude = "local unpack = table.unpack or unpack\n";

    /// <summary>
    /// KEYS: task, pending lane, stats. ARGV: id, body. Returns the pending list's length.
    /// The common case (one task, no idempotency key) without the loop of <see cref="Enqueue"/>:
    /// it costs Redis about half the CPU.
    /// </summary>
    public const string EnqueueOne = """
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        local length = redis.call('LPUSH', KEYS[2], ARGV[1])
        redis.call('HINCRBY', KEYS[3], 'enqueued', 1)
        return length
        """;

    /// <summary>
    /// KEYS: task, pending lane, stats, then one idempotency key per task that has one.
    /// ARGV: idempotency window ms, then (id, body, index into KEYS of its idempotency key or 0) per task.
    /// Returns the id per task (the earlier task's id when its idempotency key was taken), then the
    /// pending list's length, then how many tasks were added.
    /// </summary>
    public const string Enqueue = Prelude + """
        local window = ARGV[1]
        local fields, ids, out = {}, {}, {}
        for i = 2, #ARGV, 3 do
          local id, body, k = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
          local existing = false
          if k > 0 then
            existing = redis.call('GET', KEYS[k])
            if not existing then redis.call('SET', KEYS[k], id, 'PX', window) end
          end
          if existing then
            out[#out + 1] = existing
          else
            fields[#fields + 1] = id
            fields[#fields + 1] = body
            ids[#ids + 1] = id
            out[#out + 1] = id
          end
        end
        local length = 0
        if #ids > 0 then
          redis.call('HSET', KEYS[1], unpack(fields))
          length = redis.call('LPUSH', KEYS[2], unpack(ids))
          redis.call('HINCRBY', KEYS[3], 'enqueued', #ids)
        end
        out[#out + 1] = length
        out[#out + 1] = #ids
        return out
        """;

    /// <summary>
    /// KEYS: task, lease, sent, pending 0..2, leased 0..2. ARGV: lease deadline ms, how many, consumer token.
    /// Takes tasks from the highest-priority lane first and leases them to the consumer.
    /// Returns (id, lane, body or nil, sent marker or nil) per task.
    /// </summary>
    public const string Claim = Prelude + """
        local deadline, want, token = ARGV[1], tonumber(ARGV[2]), ARGV[3]
        local out = {}
        for lane = 0, 2 do
          if want <= 0 then break end
          local ids = redis.call('RPOP', KEYS[4 + lane], want)
          -- Garnet answers a one-element RPOP with a count as a plain string, Redis as an array.
          if type(ids) == 'string' then ids = {ids} end
          if type(ids) == 'table' and #ids > 0 then
            local scores, owners = {}, {}
            for _, id in ipairs(ids) do
              scores[#scores + 1] = deadline
              scores[#scores + 1] = id
              owners[#owners + 1] = id
              owners[#owners + 1] = token
            end
            redis.call('ZADD', KEYS[7 + lane], unpack(scores))
            redis.call('HSET', KEYS[2], unpack(owners))
            local bodies = redis.call('HMGET', KEYS[1], unpack(ids))
            local sent = redis.call('HMGET', KEYS[3], unpack(ids))
            for i, id in ipairs(ids) do
              out[#out + 1] = id
              out[#out + 1] = lane
              out[#out + 1] = bodies[i]
              out[#out + 1] = sent[i]
            end
            want = want - #ids
          end
        end
        return out
        """;

    /// <summary>
    /// KEYS: task, lease, sent, stats, leased 0..2, this minute's throughput counter.
    /// ARGV: consumer token, throughput counter TTL seconds, task ids.
    /// Completes the tasks this consumer still holds. A task whose lease it lost (it was recovered
    /// and may be with another consumer) gets a sent marker instead, so it is not sent twice.
    /// Returns how many tasks were completed.
    /// </summary>
    public const string Acknowledge = Prelude + """
        local token = ARGV[1]
        local ids = {}
        for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
        local owners = redis.call('HMGET', KEYS[2], unpack(ids))
        local owned, lost = {}, {}
        for i, id in ipairs(ids) do
          if owners[i] == token then owned[#owned + 1] = id else lost[#lost + 1] = id end
        end
        if #owned > 0 then
          redis.call('HDEL', KEYS[1], unpack(owned))
          redis.call('HDEL', KEYS[2], unpack(owned))
          redis.call('HDEL', KEYS[3], unpack(owned))
          for lane = 0, 2 do redis.call('ZREM', KEYS[5 + lane], unpack(owned)) end
          redis.call('HINCRBY', KEYS[4], 'processed', #owned)
          redis.call('INCRBY', KEYS[8], #owned)
          redis.call('EXPIRE', KEYS[8], ARGV[2])
        end
        local marks = {}
        for _, id in ipairs(lost) do
          if redis.call('HEXISTS', KEYS[1], id) == 1 then
            marks[#marks + 1] = id
            marks[#marks + 1] = '1'
          end
        end
        if #marks > 0 then redis.call('HSET', KEYS[3], unpack(marks)) end
        return #owned
        """;

    /// <summary>
    /// KEYS: task, lease, sent, stats, dead, leased 0..2, scheduled lane, dead errors.
    /// ARGV: consumer token, id, new body, 'retry', 'postpone' (no attempt counted) or 'dead', due or death time ms, oldest death time ms
    /// kept, most dead letters kept, error text.
    /// Records a failed attempt: the task waits in the schedule for its retry, or becomes a dead letter.
    /// Returns 0 when the consumer no longer holds the lease.
    /// </summary>
    public const string Fail = Prelude + """
        local token, id, body, mode, score = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
        if redis.call('HGET', KEYS[2], id) ~= token then return 0 end
        redis.call('HSET', KEYS[1], id, body)
        redis.call('HDEL', KEYS[2], id)
        for lane = 0, 2 do redis.call('ZREM', KEYS[6 + lane], id) end
        if mode == 'postpone' then
          redis.call('ZADD', KEYS[9], score, id)
          redis.call('HINCRBY', KEYS[4], 'postponed', 1)
          return 1
        end
        redis.call('HINCRBY', KEYS[4], 'failed', 1)
        if mode == 'retry' then
          redis.call('ZADD', KEYS[9], score, id)
          redis.call('HINCRBY', KEYS[4], 'retried', 1)
          return 1
        end
        redis.call('HDEL', KEYS[3], id)
        redis.call('ZADD', KEYS[5], score, id)
        redis.call('HSET', KEYS[10], id, ARGV[8])
        redis.call('HINCRBY', KEYS[4], 'dead_lettered', 1)
        local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[6], 'LIMIT', 0, 1000)
        if #expired > 0 then
          redis.call('ZREM', KEYS[5], unpack(expired))
          redis.call('HDEL', KEYS[1], unpack(expired))
          redis.call('HDEL', KEYS[10], unpack(expired))
        end
        local excess = redis.call('ZCARD', KEYS[5]) - tonumber(ARGV[7])
        if excess > 0 then
          local oldest = redis.call('ZRANGE', KEYS[5], 0, excess - 1)
          redis.call('ZREM', KEYS[5], unpack(oldest))
          redis.call('HDEL', KEYS[1], unpack(oldest))
          redis.call('HDEL', KEYS[10], unpack(oldest))
        end
        return 1
        """;

    /// <summary>
    /// KEYS: lease, leased 0..2. ARGV: consumer token, new deadline ms, task ids.
    /// Extends the leases this consumer still holds; returns the ids it no longer holds.
    /// </summary>
    public const string Extend = Prelude + """
        local token, deadline = ARGV[1], ARGV[2]
        local ids = {}
        for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
        local owners = redis.call('HMGET', KEYS[1], unpack(ids))
        local scores, lost = {}, {}
        for i, id in ipairs(ids) do
          if owners[i] == token then
            scores[#scores + 1] = deadline
            scores[#scores + 1] = id
          else
            lost[#lost + 1] = id
          end
        end
        if #scores > 0 then
          for lane = 0, 2 do redis.call('ZADD', KEYS[2 + lane], 'XX', unpack(scores)) end
        end
        return lost
        """;

    /// <summary>
    /// KEYS: lease, leased 0..2, pending 0..2. ARGV: consumer token, then (id, lane) pairs.
    /// Gives unfinished tasks back at the head of their lane (shutdown). Returns how many.
    /// </summary>
    public const string Release = Prelude + """
        local token, released = ARGV[1], 0
        for i = 2, #ARGV, 2 do
          local id, lane = ARGV[i], tonumber(ARGV[i + 1])
          if redis.call('HGET', KEYS[1], id) == token then
            redis.call('HDEL', KEYS[1], id)
            redis.call('ZREM', KEYS[2 + lane], id)
            redis.call('RPUSH', KEYS[5 + lane], id)
            released = released + 1
          end
        end
        return released
        """;

    /// <summary>
    /// KEYS: lease, stats, pending 0..2, scheduled 0..2, leased 0..2. ARGV: now ms, most tasks per lane.
    /// Moves due retries and tasks whose lease expired (their consumer died) to the head of their lane.
    /// Returns {due retries moved, expired leases recovered}.
    /// </summary>
    public const string Maintain = Prelude + """
        local now, limit = ARGV[1], ARGV[2]
        local promoted, recovered = 0, 0
        for lane = 0, 2 do
          local due = redis.call('ZRANGEBYSCORE', KEYS[6 + lane], '-inf', now, 'LIMIT', 0, limit)
          if #due > 0 then
            redis.call('ZREM', KEYS[6 + lane], unpack(due))
            redis.call('RPUSH', KEYS[3 + lane], unpack(due))
            promoted = promoted + #due
          end
          local expired = redis.call('ZRANGEBYSCORE', KEYS[9 + lane], '-inf', now, 'LIMIT', 0, limit)
          if #expired > 0 then
            redis.call('ZREM', KEYS[9 + lane], unpack(expired))
            redis.call('HDEL', KEYS[1], unpack(expired))
            redis.call('RPUSH', KEYS[3 + lane], unpack(expired))
            recovered = recovered + #expired
          end
        end
        if recovered > 0 then redis.call('HINCRBY', KEYS[2], 'recovered', recovered) end
        return {promoted, recovered}
        """;

    /// <summary>
    /// KEYS: task, dead, dead errors, stats, pending lane. ARGV: id, new body.
    /// Puts a dead letter back in line. Returns 0 when it is not (or no longer) a dead letter.
    /// </summary>
    public const string Revive = """
        if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('HDEL', KEYS[3], ARGV[1])
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('LPUSH', KEYS[5], ARGV[1])
        redis.call('HINCRBY', KEYS[4], 'revived', 1)
        return 1
        """;

    /// <summary>KEYS: task, dead, dead errors. ARGV: ids. Deletes dead letters; returns how many.</summary>
    public const string DeleteDead = """
        local deleted = 0
        for i = 1, #ARGV do
          if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
            redis.call('HDEL', KEYS[1], ARGV[i])
            redis.call('HDEL', KEYS[3], ARGV[i])
            deleted = deleted + 1
          end
        end
        return deleted
        """;
}
