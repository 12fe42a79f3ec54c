using Notifications.Queue;
using StackExchange.Redis;

namespace Api.Sending;

/// <summary>What became of the notifications of one request: queued (with task ids) or spooled to disk.</summary>
public sealed record DispatchResult(IReadOnlyList<string> TaskIds, bool Spooled);

/// <summary>
/// Hands a request's notifications to Redis, or, when Redis does not take them, to the local spool;
/// either way they are durable when this returns, so the endpoint may answer 202.
/// </summary>
public sealed partial class NotificationDispatcher(
    NotificationQueue queue, IConnectionMultiplexer redis, NotificationSpool spool, DeliveryLogWriter deliveryLog,
    ILogger<NotificationDispatcher> logger)
{
    // A few tasks go through the queue's group commit, shared with other requests; more go as one bulk call.
    private const int GroupCommitMax = 4;

    public async Task<DispatchResult> DispatchAsync(IReadOnlyList<NotificationRequest> requests, CancellationToken cancellationToken)
    {
        if (requests.Count == 0)
        {
            return new DispatchResult([], false);
        }
        if (redis.IsConnected)
        {
            try
            {
                var results = await EnqueueAsync(requests).ConfigureAwait(false);
                deliveryLog.Queued(requests, results);
                return new DispatchResult([.. results.Select(r => r.TaskId)], false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogSpooling(logger, requests.Count, ex.Message);
            }
        }
        // The request's own token is not used: once we spool, we finish spooling.
        await spool.WriteAsync(requests, CancellationToken.None).ConfigureAwait(false);
        return new DispatchResult([], true);
    }

    internal async Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(IReadOnlyList<NotificationRequest> requests)
    {
        if (requests.Count > GroupCommitMax)
        {
            return await queue.EnqueueManyAsync(requests).ConfigureAwait(false);
        }
        var pending = new Task<EnqueueResult>[requests.Count];
        for (var i = 0; i < requests.Count; i++)
        {
            pending[i] = queue.EnqueueAsync(requests[i]);
        }
        return await Task.WhenAll(pending).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis did not take {Count} notifications ({Reason}); spooling them to disk")]
    private static partial void LogSpooling(ILogger logger, int count, string reason);
}
