using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Notifications.Tasks;
using StackExchange.Redis;

namespace Notifications.Queue;

/// <summary>A task that will not be tried again by itself: its last error, and the task when it could be read.</summary>
public sealed record DeadLetter(string Id, DateTimeOffset DiedAt, string Error, NotificationTask? Task, string RawPayload);

public sealed record DeadLetterQuery
{
    /// <summary>Case-insensitive text found in the recipient, the type, the error or the id.</summary>
    public string? Search { get; init; }
    public NotificationType? Type { get; init; }
    public int Offset { get; init; }
    public int Limit { get; init; } = 50;
}

/// <summary>A payload dead-lettered as unreadable, and the dead letters the caps removed to make room.</summary>
public sealed record UnreadableDeadLetter(string Id, DeadLetterEvictions Evicted);

public sealed record DeadLetterPage(IReadOnlyList<DeadLetter> Items, int Total);

/// <summary>
/// The dead letters of the queue: list and search (newest first), retry, delete. Their number and
/// age are capped by <see cref="QueueOptions.DeadLetterMaxCount"/> and <see cref="QueueOptions.DeadLetterMaxAge"/>
/// when new ones arrive, so searching reads at most that many.
/// </summary>
public sealed class DeadLetters(IConnectionMultiplexer redis, IOptions<QueueOptions> options, QueueMetrics? metrics = null, ILogger<DeadLetters>? logger = null)
{
    private const int ReadChunk = 500;
    private readonly QueueKeys _keys = new(options.Value.Name);
    private readonly IDatabase _db = redis.GetDatabase();

    public async Task<DeadLetterPage> ListAsync(DeadLetterQuery query, CancellationToken cancellationToken = default)
    {
        if (query.Offset < 0 || query.Limit is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(query), "Offset must be 0 or more and limit 1 to 1000.");
        }
        var unfiltered = string.IsNullOrWhiteSpace(query.Search) && query.Type is null;
        if (unfiltered)
        {
            var total = (int)await _db.SortedSetLengthAsync(_keys.Dead).ConfigureAwait(false);
            var page = await _db.SortedSetRangeByRankWithScoresAsync(_keys.Dead, query.Offset, query.Offset + query.Limit - 1, Order.Descending).ConfigureAwait(false);
            return new DeadLetterPage(await ReadAsync(page).ConfigureAwait(false), total);
        }

        var matches = new List<DeadLetter>();
        var all = await _db.SortedSetRangeByRankWithScoresAsync(_keys.Dead, 0, -1, Order.Descending).ConfigureAwait(false);
        foreach (var chunk in all.Chunk(ReadChunk))
        {
            cancellationToken.ThrowIfCancellationRequested();
            matches.AddRange((await ReadAsync(chunk).ConfigureAwait(false)).Where(letter => Matches(letter, query)));
        }
        return new DeadLetterPage([.. matches.Skip(query.Offset).Take(query.Limit)], matches.Count);
    }

    public async Task<DeadLetter?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var score = await _db.SortedSetScoreAsync(_keys.Dead, id).ConfigureAwait(false);
        if (score is null)
        {
            return null;
        }
        var letters = await ReadAsync([new SortedSetEntry(id, score.Value)]).ConfigureAwait(false);
        return letters.Count == 1 ? letters[0] : null;
    }

    /// <summary>Puts a dead letter back in its lane with a fresh set of attempts. False when it is not a dead letter.</summary>
    public async Task<bool> RetryAsync(string id, CancellationToken cancellationToken = default)
    {
        var letter = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (letter?.Task is not { } task)
        {
            // An unreadable payload cannot be sent however often it is retried; it can only be deleted.
            return false;
        }
        var revived = task with { RetryCount = 0, LastError = null, FailedAtMs = 0 };
        var lane = QueueKeys.LaneOf(revived.Priority);
        var result = await _db.ScriptEvaluateAsync(QueueScripts.Revive,
            [_keys.Tasks, _keys.Dead, _keys.DeadErrors, _keys.Stats, _keys.Pending[lane], _keys.Recoveries],
            [id, TaskJson.Serialize(revived)]).ConfigureAwait(false);
        if ((int)result == 1)
        {
            await redis.GetSubscriber().PublishAsync(_keys.WakeChannel, RedisValue.EmptyString, CommandFlags.FireAndForget).ConfigureAwait(false);
            return true;
        }
        return false;
    }

    /// <summary>Retries every dead letter that holds a readable task; returns how many went back in line.</summary>
    public async Task<int> RetryAllAsync(CancellationToken cancellationToken = default)
    {
        var retried = 0;
        foreach (var id in await _db.SortedSetRangeByRankAsync(_keys.Dead).ConfigureAwait(false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (await RetryAsync(id!, cancellationToken).ConfigureAwait(false))
            {
                retried++;
            }
        }
        return retried;
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default) =>
        (int)await _db.ScriptEvaluateAsync(QueueScripts.DeleteDead, [_keys.Tasks, _keys.Dead, _keys.DeadErrors], [id]).ConfigureAwait(false) == 1;

    public async Task<int> DeleteAllAsync(CancellationToken cancellationToken = default)
    {
        var deleted = 0;
        foreach (var chunk in (await _db.SortedSetRangeByRankAsync(_keys.Dead).ConfigureAwait(false)).Chunk(ReadChunk))
        {
            cancellationToken.ThrowIfCancellationRequested();
            deleted += (int)await _db.ScriptEvaluateAsync(QueueScripts.DeleteDead, [_keys.Tasks, _keys.Dead, _keys.DeadErrors], chunk).ConfigureAwait(false);
        }
        return deleted;
    }

    /// <summary>
    /// Dead-letters a payload that never became a task, such as malformed JSON from the old backend's
    /// list, so that it is seen and not dropped. The same caps apply as to every other dead letter (the
    /// old backend's garbage must not grow without bound); what they removed is counted, logged and
    /// returned, for the caller to write to the delivery log.
    /// </summary>
    public async Task<UnreadableDeadLetter> AddUnreadableAsync(string rawPayload, string error, CancellationToken cancellationToken = default)
    {
        var id = TaskIds.New();
        var settings = options.Value;
        var evicted = (RedisResult[])(await _db.ScriptEvaluateAsync(QueueScripts.AddDead, [_keys.Tasks, _keys.Dead, _keys.DeadErrors, _keys.Stats],
            [id, rawPayload, error, (long)settings.DeadLetterMaxAge.TotalMilliseconds, settings.DeadLetterMaxCount])
            .WaitAsync(cancellationToken).ConfigureAwait(false))!;
        var evictions = DeadLetterEvictions.Read(evicted);
        evictions.Report(metrics, logger ?? (ILogger)NullLogger.Instance, settings);
        return new UnreadableDeadLetter(id, evictions);
    }

    private async Task<IReadOnlyList<DeadLetter>> ReadAsync(IReadOnlyList<SortedSetEntry> entries)
    {
        if (entries.Count == 0)
        {
            return [];
        }
        var ids = entries.Select(e => (RedisValue)e.Element).ToArray();
        var bodies = _db.HashGetAsync(_keys.Tasks, ids);
        var errors = _db.HashGetAsync(_keys.DeadErrors, ids);
        var bodyValues = await bodies.ConfigureAwait(false);
        var errorValues = await errors.ConfigureAwait(false);
        var letters = new List<DeadLetter>(entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var raw = bodyValues[i].IsNull ? "" : (string)bodyValues[i]!;
            var task = TryRead(bodyValues[i]);
            var error = errorValues[i].IsNull ? task?.LastError ?? "" : (string)errorValues[i]!;
            letters.Add(new DeadLetter(entries[i].Element!, DateTimeOffset.FromUnixTimeMilliseconds((long)entries[i].Score), error, task, raw));
        }
        return letters;
    }

    private static NotificationTask? TryRead(RedisValue body)
    {
        if (body.IsNull)
        {
            return null;
        }
        try
        {
            return TaskJson.Deserialize((byte[])body!);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool Matches(DeadLetter letter, DeadLetterQuery query)
    {
        if (query.Type is { } type && letter.Task?.Type != type)
        {
            return false;
        }
        if (string.IsNullOrWhiteSpace(query.Search))
        {
            return true;
        }
        var text = query.Search.Trim();
        return letter.Id.Contains(text, StringComparison.OrdinalIgnoreCase)
            || letter.Error.Contains(text, StringComparison.OrdinalIgnoreCase)
            || (letter.Task?.Recipient.Contains(text, StringComparison.OrdinalIgnoreCase) ?? false)
            || (letter.Task?.Type.ToString().Contains(text, StringComparison.OrdinalIgnoreCase) ?? false);
    }
}
