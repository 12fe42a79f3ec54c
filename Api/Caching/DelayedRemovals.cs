using System.Collections.Concurrent;

namespace Api.Caching;

/// <summary>
/// Removes a key once more a while after it was last removed, for the load that read the store just before
/// a write and stored what it read just after the write's removal. One delay runs per key at a time: a key
/// removed again while its delay runs is removed once more a full delay after that, not once per write
/// (a form's analytics entry is removed with every batch of submissions).
/// </summary>
internal sealed partial class DelayedRemovals(Func<string, Task> remove, TimeSpan delay, TimeProvider time, ILogger logger)
{
    // Per key with a delay running: how often it was removed since that delay started.
    private readonly ConcurrentDictionary<string, long> _pending = new(StringComparer.Ordinal);

    public void Schedule(string key)
    {
        while (true)
        {
            if (_pending.TryAdd(key, 0))
            {
                _ = RunAsync(key);
                return;
            }
            if (_pending.TryGetValue(key, out var removals) && _pending.TryUpdate(key, removals + 1, removals))
            {
                return;
            }
        }
    }

    private async Task RunAsync(string key)
    {
        try
        {
            while (true)
            {
                var removals = _pending[key];
                await Task.Delay(delay, time).ConfigureAwait(false);
                await remove(key).ConfigureAwait(false);
                // Finished unless the key was removed again during the delay (then the count has moved on).
                if (((ICollection<KeyValuePair<string, long>>)_pending).Remove(new(key, removals)))
                {
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            _pending.TryRemove(key, out _);
            LogFailed(logger, key, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The second removal of cache entry {Key} failed; it expires with its TTL")]
    private static partial void LogFailed(ILogger logger, string key, Exception exception);
}
