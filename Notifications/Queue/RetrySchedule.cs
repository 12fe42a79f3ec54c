namespace Notifications.Queue;

/// <summary>
/// When a failed task is tried again: exponential backoff from <see cref="QueueOptions.RetryBaseDelay"/>,
/// capped at <see cref="QueueOptions.RetryMaxDelay"/>, with part of each delay random so the retries of
/// one outage spread out. A provider's Retry-After, passed by the handler, wins.
/// </summary>
public sealed class RetrySchedule(QueueOptions options, Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;

    /// <param name="failedAttempts">Failed attempts so far, including the one just made (1 for the first failure).</param>
    public TimeSpan DelayAfter(int failedAttempts, TimeSpan? retryAfter = null)
    {
        if (retryAfter is { } requested && requested >= TimeSpan.Zero)
        {
            return requested;
        }
        var exponent = Math.Clamp(failedAttempts - 1, 0, 30);
        var ceiling = Math.Min(options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, exponent), options.RetryMaxDelay.TotalMilliseconds);
        var jitter = ceiling * options.RetryJitter * _random.NextDouble();
        return TimeSpan.FromMilliseconds(ceiling - jitter);
    }

    /// <summary>Whether a task that has now failed <paramref name="failedAttempts"/> times goes to the dead letters.</summary>
    public static bool IsExhausted(int failedAttempts, int maxRetries) => failedAttempts > maxRetries;
}
