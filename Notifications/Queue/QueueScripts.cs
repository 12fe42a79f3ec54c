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
    /// Server time in milliseconds, and the dead-letter caps. Lease deadlines, retry due times and dead
    /// letters' ages all come from Redis's clock, so two workers whose clocks disagree still agree on
    /// when a lease has expired. <c>%.0f</c> keeps 13-digit millisecond values exact in Lua 5.1 and 5.4.
    /// </summary>
    private const string ServerTime = Prelude + """
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function ms(x) return string.format('%.0f', x) end
        -- KEYS of: task, dead, dead errors, stats. Removes dead letters older than max_age_ms or past
        -- max_count (oldest first), counts them in stats 'dead_evicted', and returns them as (id, body) pairs.
        local function cap_dead(task, dead, errors, stats, now, max_age_ms, max_count)
          local evicted = redis.call('ZRANGEBYSCORE', dead, '-inf', '(' .. ms(now - max_age_ms), 'LIMIT', 0, 1000)
          local excess = redis.call('ZCARD', dead) - #evicted - max_count
          if excess > 0 then
            local oldest = redis.call('ZRANGE', dead, #evicted, #evicted + excess - 1)
            for _, id in ipairs(oldest) do evicted[#evicted + 1] = id end
          end
          local out = {}
          if #evicted > 0 then
            local bodies = redis.call('HMGET', task, unpack(evicted))
            for i, id in ipairs(evicted) do
              out[#out + 1] = id
              out[#out + 1] = bodies[i] or ''
            end
            redis.call('ZREM', dead, unpack(evicted))
            redis.call('HDEL', task, unpack(evicted))
            redis.call('HDEL', errors, unpack(evicted))
            redis.call('HINCRBY', stats, 'dead_evicted', #evicted)
          end
          return out
        end

        """;

    /// <summary>
    /// KEYS: task, lease, sent, pending 0..2, leased 0..2. ARGV: lease ms, how many, claim token.
    /// Takes tasks from the highest-priority lane first and leases them under this claim's own token,
    /// until the server's clock passes now + lease. Returns (id, lane, body or nil, sent marker or nil) per task.
    /// </summary>
    public const string Claim = ServerTime + """
        local deadline, want, token = ms(now_ms() + tonumber(ARGV[1])), tonumber(ARGV[2]), ARGV[3]
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
    /// KEYS: task, lease, sent, stats, leased 0..2, this minute's throughput counter, recoveries.
    /// ARGV: throughput counter TTL seconds, then (task id, claim token) pairs.
    /// Completes the tasks whose lease the claim still holds. A task whose lease it lost (it was
    /// recovered and may be with another consumer) gets a sent marker instead, so it is not sent twice.
    /// Returns how many tasks were completed.
    /// </summary>
    public const string Acknowledge = Prelude + """
        local ids, tokens = {}, {}
        for i = 2, #ARGV, 2 do
          ids[#ids + 1] = ARGV[i]
          tokens[#tokens + 1] = ARGV[i + 1]
        end
        local owners = redis.call('HMGET', KEYS[2], unpack(ids))
        local owned, lost = {}, {}
        for i, id in ipairs(ids) do
          if owners[i] == tokens[i] then owned[#owned + 1] = id else lost[#lost + 1] = id end
        end
        if #owned > 0 then
          redis.call('HDEL', KEYS[1], unpack(owned))
          redis.call('HDEL', KEYS[2], unpack(owned))
          redis.call('HDEL', KEYS[3], unpack(owned))
          redis.call('HDEL', KEYS[9], unpack(owned))
          for lane = 0, 2 do redis.call('ZREM', KEYS[5 + lane], unpack(owned)) end
          redis.call('HINCRBY', KEYS[4], 'processed', #owned)
          redis.call('INCRBY', KEYS[8], #owned)
          redis.call('EXPIRE', KEYS[8], ARGV[1])
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
    /// KEYS: task, lease, sent. ARGV: task id, claim token.
    /// Records that the provider accepted the task. The marker is written whoever holds the lease now
    /// (the student has the message: a consumer that recovered the task must not send it again), but
    /// not for a task already completed and gone. Returns 1 when the claim still holds the lease.
    /// </summary>
    public const string MarkSent = ServerTime + """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[3], ARGV[1], ms(now_ms())) end
        if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then return 1 end
        return 0
        """;

    /// <summary>
    /// KEYS: task, lease, sent, stats, dead, leased 0..2, scheduled lane, dead errors, recoveries.
    /// ARGV: claim token, id, new body, 'retry', 'postpone' (no attempt counted) or 'dead', delay ms
    /// until the retry, dead letters' max age ms, most dead letters kept, error text.
    /// Records a failed attempt: the task waits in the schedule for its retry, or becomes a dead letter.
    /// Returns {0} when the claim no longer holds the lease, else {1, then (id, body) of each dead letter the caps removed}.
    /// </summary>
    public const string Fail = ServerTime + """
        local token, id, body, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
        if redis.call('HGET', KEYS[2], id) ~= token then return {0} end
        local now = now_ms()
        redis.call('HSET', KEYS[1], id, body)
        redis.call('HDEL', KEYS[2], id)
        for lane = 0, 2 do redis.call('ZREM', KEYS[6 + lane], id) end
        if mode == 'postpone' then
          redis.call('ZADD', KEYS[9], ms(now + tonumber(ARGV[5])), id)
          redis.call('HINCRBY', KEYS[4], 'postponed', 1)
          return {1}
        end
        redis.call('HINCRBY', KEYS[4], 'failed', 1)
        if mode == 'retry' then
          redis.call('ZADD', KEYS[9], ms(now + tonumber(ARGV[5])), id)
          redis.call('HINCRBY', KEYS[4], 'retried', 1)
          return {1}
        end
        redis.call('HDEL', KEYS[3], id)
        redis.call('HDEL', KEYS[11], id)
        redis.call('ZADD', KEYS[5], ms(now), id)
        redis.call('HSET', KEYS[10], id, ARGV[8])
        redis.call('HINCRBY', KEYS[4], 'dead_lettered', 1)
        local out = {1}
        for _, evicted in ipairs(cap_dead(KEYS[1], KEYS[5], KEYS[10], KEYS[4], now, tonumber(ARGV[6]), tonumber(ARGV[7]))) do
          out[#out + 1] = evicted
        end
        return out
        """;

    /// <summary>
    /// KEYS: lease, leased 0..2. ARGV: lease ms, then (task id, claim token) pairs.
    /// Extends, to the server's now + lease, the leases the claims still hold; returns the positions
    /// (1-based) of the pairs whose claim no longer holds it. Positions, not ids: one task can be in the
    /// list twice, under an old claim and a new one.
    /// </summary>
    public const string Extend = ServerTime + """
        local deadline = ms(now_ms() + tonumber(ARGV[1]))
        local ids, tokens = {}, {}
        for i = 2, #ARGV, 2 do
          ids[#ids + 1] = ARGV[i]
          tokens[#tokens + 1] = ARGV[i + 1]
        end
        local owners = redis.call('HMGET', KEYS[1], unpack(ids))
        local scores, lost = {}, {}
        for i, id in ipairs(ids) do
          if owners[i] == tokens[i] then
            scores[#scores + 1] = deadline
            scores[#scores + 1] = id
          else
            lost[#lost + 1] = i
          end
        end
        if #scores > 0 then
          for lane = 0, 2 do redis.call('ZADD', KEYS[2 + lane], 'XX', unpack(scores)) end
        end
        return lost
        """;

    /// <summary>
    /// KEYS: lease, leased 0..2, pending 0..2. ARGV: (id, lane, claim token) triples.
    /// Gives unfinished tasks back at the head of their lane (shutdown). Returns how many.
    /// </summary>
    public const string Release = Prelude + """
        local released = 0
        for i = 1, #ARGV, 3 do
          local id, lane = ARGV[i], tonumber(ARGV[i + 1])
          if redis.call('HGET', KEYS[1], id) == ARGV[i + 2] then
            redis.call('HDEL', KEYS[1], id)
            redis.call('ZREM', KEYS[2 + lane], id)
            redis.call('RPUSH', KEYS[5 + lane], id)
            released = released + 1
          end
        end
        return released
        """;

    /// <summary>
    /// KEYS: lease, stats, pending 0..2, scheduled 0..2, leased 0..2, recoveries, task, dead, dead errors, sent.
    /// ARGV: most tasks per lane, most recoveries of one task, dead letters' max age ms, most dead letters kept.
    /// Moves due retries, and tasks whose lease expired on the server's clock (their consumer died or
    /// stalled), to the head of their lane. A task recovered more than the most recoveries (its handler
    /// kills its process every time) becomes a dead letter instead of being recovered forever.
    /// Returns {due retries moved, leases recovered, n poisoned, (id, body) of each poisoned task, then of each dead letter the caps removed}.
    /// </summary>
    public const string Maintain = ServerTime + """
        local now, limit, max_recoveries = now_ms(), ARGV[1], tonumber(ARGV[2])
        local promoted, recovered, poisoned = 0, 0, {}
        for lane = 0, 2 do
          local due = redis.call('ZRANGEBYSCORE', KEYS[6 + lane], '-inf', ms(now), 'LIMIT', 0, limit)
          if #due > 0 then
            redis.call('ZREM', KEYS[6 + lane], unpack(due))
            redis.call('RPUSH', KEYS[3 + lane], unpack(due))
            promoted = promoted + #due
          end
          local expired = redis.call('ZRANGEBYSCORE', KEYS[9 + lane], '-inf', ms(now), 'LIMIT', 0, limit)
          if #expired > 0 then
            redis.call('ZREM', KEYS[9 + lane], unpack(expired))
            redis.call('HDEL', KEYS[1], unpack(expired))
            local back = {}
            for _, id in ipairs(expired) do
              if redis.call('HINCRBY', KEYS[12], id, 1) > max_recoveries then
                poisoned[#poisoned + 1] = id
              else
                back[#back + 1] = id
              end
            end
            if #back > 0 then redis.call('RPUSH', KEYS[3 + lane], unpack(back)) end
            recovered = recovered + #back
          end
        end
        if recovered > 0 then redis.call('HINCRBY', KEYS[2], 'recovered', recovered) end
        local out = {promoted, recovered, #poisoned}
        if #poisoned > 0 then
          local reason = 'Recovered more than ' .. max_recoveries .. ' times: its worker died or stalled while handling it each time.'
          local bodies = redis.call('HMGET', KEYS[13], unpack(poisoned))
          for i, id in ipairs(poisoned) do
            redis.call('ZADD', KEYS[14], ms(now), id)
            redis.call('HSET', KEYS[15], id, reason)
            out[#out + 1] = id
            out[#out + 1] = bodies[i] or ''
          end
          redis.call('HDEL', KEYS[12], unpack(poisoned))
          redis.call('HDEL', KEYS[16], unpack(poisoned))
          redis.call('HINCRBY', KEYS[2], 'dead_lettered', #poisoned)
          redis.call('HINCRBY', KEYS[2], 'poisoned', #poisoned)
          for _, evicted in ipairs(cap_dead(KEYS[13], KEYS[14], KEYS[15], KEYS[2], now, tonumber(ARGV[3]), tonumber(ARGV[4]))) do
            out[#out + 1] = evicted
          end
        end
        return out
        """;

    /// <summary>
    /// KEYS: task, dead, dead errors, stats, pending lane, recoveries. ARGV: id, new body.
    /// Puts a dead letter back in line. Returns 0 when it is not (or no longer) a dead letter.
    /// </summary>
    public const string Revive = """
        if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('HDEL', KEYS[3], ARGV[1])
        redis.call('HDEL', KEYS[6], ARGV[1])
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('LPUSH', KEYS[5], ARGV[1])
        redis.call('HINCRBY', KEYS[4], 'revived', 1)
        return 1
        """;

    /// <summary>
    /// KEYS: task, dead, dead errors, stats. ARGV: id, payload, error, dead letters' max age ms, most kept.
    /// Dead-letters a payload that never became a task, under the same caps. Returns (id, body) of each dead letter the caps removed.
    /// </summary>
    public const string AddDead = ServerTime + """
        local now = now_ms()
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
        redis.call('ZADD', KEYS[2], ms(now), ARGV[1])
        redis.call('HINCRBY', KEYS[4], 'dead_lettered', 1)
        return cap_dead(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, tonumber(ARGV[4]), tonumber(ARGV[5]))
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
