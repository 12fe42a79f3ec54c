namespace Notifications.Queue;

/// <summary>
/// An auto-reset signal: <see cref="Set"/> wakes one waiter, or the next one if none waits yet, so a
/// wake-up that arrives just before the consumer starts waiting is not missed.
/// </summary>
internal sealed class WakeSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Set()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already set: one pending wake-up is enough.
        }
    }

    /// <returns>True when woken, false when the timeout passed first.</returns>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _signal.WaitAsync(timeout, cancellationToken);
}
