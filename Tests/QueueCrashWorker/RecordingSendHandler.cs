using Notifications.Queue;
using StackExchange.Redis;

namespace QueueCrashWorker;

/// <summary>
/// Stands in for a provider: a "send" is recorded in Redis together with the task's sent marker, in
/// one transaction, so the record shows exactly how often each task was sent.
/// </summary>
public sealed class RecordingSendHandler(IDatabase db, QueueKeys keys) : INotificationHandler
{
    public static RedisKey SendsKey(QueueKeys keys) => "{" + keys.Name + "}:test-sends";

    public static async Task SendAsync(IDatabase db, QueueKeys keys, string taskId)
    {
        var send = db.CreateTransaction();
        _ = send.HashIncrementAsync(SendsKey(keys), taskId);
        _ = send.HashSetAsync(keys.SentMarkers, taskId, 1);
        await send.ExecuteAsync();
    }

    public async ValueTask<HandlerResult> HandleAsync(ClaimedTask claimed, CancellationToken cancellationToken)
    {
        if (!claimed.AlreadySent)
        {
            await SendAsync(db, keys, claimed.Task.Id);
        }
        return HandlerResult.Done;
    }
}
