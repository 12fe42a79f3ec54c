using Notifications.Queue;
using StackExchange.Redis;

namespace QueueCrashWorker;

/// <summary>
/// Stands in for a provider: a "send" is recorded in Redis together with the task's sent marker, in
/// one transaction, so the record shows exactly how often each task was sent.
/// </summary>
public sealed class RecordingSendHandler(IDatabase db, QueueKeys keys, TimeSpan sendDuration) : INotificationHandler
{
    public static RedisKey SendsKey(QueueKeys keys) => "{" + keys.Name + "}:test-sends";

    public async ValueTask<HandlerResult> HandleAsync(ClaimedTask claimed, CancellationToken cancellationToken)
    {
        if (claimed.AlreadySent)
        {
            return HandlerResult.Done;
        }
        await Task.Delay(sendDuration, cancellationToken);
        var send = db.CreateTransaction();
        _ = send.HashIncrementAsync(SendsKey(keys), claimed.Task.Id);
        _ = send.HashSetAsync(keys.SentMarkers, claimed.Task.Id, 1);
        await send.ExecuteAsync();
        return HandlerResult.Done;
    }
}
