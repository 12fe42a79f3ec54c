using Notifications.Queue;
using StackExchange.Redis;

namespace QueueCrashWorker;

/// <summary>
/// The victim of the crash test. Tasks are numbered in the order the handler receives them: the first
/// <c>complete</c> are sent and finished, the next <c>sendThenHold</c> are sent and then held (a worker
/// killed after the provider accepted but before it acknowledged), and every later one is held before
/// sending. A held handler never returns, so once every slot holds a task the queue's state stops
/// changing and the test knows exactly which tasks the worker held when it killed it.
/// </summary>
public sealed class HoldingSendHandler(IDatabase db, QueueKeys keys, int complete, int sendThenHold) : INotificationHandler
{
    public static RedisKey ArrivalsKey(QueueKeys keys) => "{" + keys.Name + "}:test-arrivals";

    public async ValueTask<HandlerResult> HandleAsync(ClaimedTask claimed, CancellationToken cancellationToken)
    {
        var arrival = await db.StringIncrementAsync(ArrivalsKey(keys));
        if (arrival <= complete + sendThenHold)
        {
            await RecordingSendHandler.SendAsync(db, keys, claimed.Task.Id);
        }
        if (arrival <= complete)
        {
            return HandlerResult.Done;
        }
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return HandlerResult.Done;
    }
}
