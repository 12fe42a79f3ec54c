using System.Diagnostics;
using Microsoft.Extensions.Options;
using Notifications.Tasks;

namespace Notifications.Queue;

/// <summary>
/// A notification made into a task before it is queued: its id, timestamp and trace context are fixed and its
/// body serialized once. The Api stores prepared tasks in the system of record's outbox, in the transaction of
/// the action that causes them, and the outbox relay enqueues exactly these bytes: the id the Api answered with
/// is the id the worker sends under.
/// </summary>
public sealed record PreparedTask(NotificationTask Task, byte[] Body)
{
    /// <summary>Reads a body the outbox stored back into its task.</summary>
    /// <exception cref="InvalidNotificationException">The body is not a task this system wrote.</exception>
    public static PreparedTask FromBody(byte[] body)
    {
        try
        {
            return new PreparedTask(TaskJson.Deserialize(body), body);
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new InvalidNotificationException($"The stored task body is not a task: {ex.Message}");
        }
    }
}

/// <summary>Turns a <see cref="NotificationRequest"/> into a <see cref="PreparedTask"/>, checking the queue's rules first.</summary>
public sealed class NotificationTaskFactory(IOptions<QueueOptions> options, TimeProvider time)
{
    /// <exception cref="InvalidNotificationException">The request breaks a rule of the queue; the message says which.</exception>
    public PreparedTask Prepare(NotificationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        NotificationRequestRules.Validate(request);
        var queuedBy = Activity.Current;
        var task = new NotificationTask
        {
            Id = TaskIds.New(),
            Type = request.Type,
            Data = request.Data,
            Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0,
            MaxRetries = request.MaxRetries ?? options.Value.DefaultMaxRetries,
            Priority = request.Priority,
            IdempotencyKey = request.IdempotencyKey,
            Correlation = request.Correlation,
            TraceParent = queuedBy?.Id,
            TraceState = queuedBy?.TraceStateString,
        };
        var body = TaskJson.Serialize(task);
        if (body.Length > NotificationRequestRules.MaxBodyBytes)
        {
            throw new InvalidNotificationException($"A notification may be at most {NotificationRequestRules.MaxBodyBytes / 1024} KiB; this one is {body.Length / 1024} KiB.");
        }
        return new PreparedTask(task, body);
    }

    public PreparedTask[] PrepareAll(IEnumerable<NotificationRequest> requests) => [.. requests.Select(Prepare)];
}
