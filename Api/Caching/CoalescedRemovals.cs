namespace Api.Caching;

/// <summary>
/// Cache removals that callers of one key share. A caller needs a removal that starts after its own
/// write; a removal already running may have started before that write, so the caller does not join it
/// but the next one, which starts when the running one ends and serves everyone who arrived meanwhile.
/// Under a burst of writes to one key this issues about one removal per removal's duration instead of
/// one per write, and every caller still reads its write once its task completes.
/// </summary>
public sealed class CoalescedRemovals(Func<string, Task> remove)
{
    private readonly Dictionary<string, KeyRemovals> _keys = new(StringComparer.Ordinal);

    public Task RemoveAsync(string key)
    {
        TaskCompletionSource? startNow = null;
        Task removed;
        KeyRemovals? removals;
        lock (_keys)
        {
            if (!_keys.TryGetValue(key, out removals))
            {
                removals = new KeyRemovals();
                _keys.Add(key, removals);
            }
            if (removals.Next is { } next)
            {
                removed = next.Task;
            }
            else if (!removals.Running)
            {
                removals.Running = true;
                startNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                removed = startNow.Task;
            }
            else
            {
                removals.Next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                removed = removals.Next.Task;
            }
        }
        // Started outside the lock: the removal's own work (memory, Redis, backplane) holds up no other key.
        if (startNow is not null)
        {
            _ = RunAsync(key, removals, startNow);
        }
        return removed;
    }

    private async Task RunAsync(string key, KeyRemovals removals, TaskCompletionSource completion)
    {
        while (true)
        {
            Exception? failure = null;
            try
            {
                await remove(key).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
            // The key's state first, then its callers: a caller that asks again at once starts a new removal.
            TaskCompletionSource? next;
            lock (_keys)
            {
                next = removals.Next;
                removals.Next = null;
                if (next is null)
                {
                    removals.Running = false;
                    _keys.Remove(key);
                }
            }
            if (failure is null)
            {
                completion.TrySetResult();
            }
            else
            {
                completion.TrySetException(failure);
            }
            if (next is null)
            {
                return;
            }
            completion = next;
        }
    }

    private sealed class KeyRemovals
    {
        public bool Running;
        public TaskCompletionSource? Next;
    }
}
