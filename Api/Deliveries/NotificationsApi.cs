using Api.Auth;
using Api.Students;
using Microsoft.AspNetCore.Http.HttpResults;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using StackExchange.Redis;

namespace Api.Deliveries;

/// <summary>Delivery status of notification tasks, from the delivery log the Api and the worker write.</summary>
public static partial class NotificationsApi
{
    public static IEndpointRouteBuilder MapNotificationsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/notifications").WithTags("Notifications").RequireAuthorization();

        // A student gets the status URL of their submission's confirmation in the 202, so they may open it.
        group.MapGet("/{taskId}", GetAsync).RequireAuthorization(AuthPolicies.StaffOrStudent)
            .WithSummary("One notification task with its timeline (a student: only their own).");
        group.MapGet("/", ListAsync).RequireAuthorization(AuthPolicies.Staff)
            .WithSummary("Notification tasks by batch, recipient or status, newest first, paged (page from 1).");
        return routes;
    }

    /// <summary>
    /// From the delivery log; a task the log does not have yet but the queue does is answered as queued. The Api
    /// writes its Queued events in the background (DeliveryLogWriter), so the status URL of a 202 may be asked
    /// for before its event is written, and it must not answer 404 for a task that is on its way.
    /// </summary>
    /// <remarks>A student asking for another student's task gets the same 404 as for an unknown one.</remarks>
    internal static async Task<Ok<DeliveryRecord>> GetAsync(string taskId, HttpContext context, IDeliveryLog deliveryLog, QueueMonitor queue,
        IConnectionMultiplexer redis, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var record = await FindAsync(taskId, deliveryLog, queue, redis, loggers, cancellationToken);
        if (!AuthPolicies.IsStaff(context.User) && record.StudentId != context.User.FindFirst(AuthPolicies.SubjectClaim)?.Value)
        {
            throw new NotFoundException("delivery task", record.TaskId);
        }
        return TypedResults.Ok(record);
    }

    private static async Task<DeliveryRecord> FindAsync(string taskId, IDeliveryLog deliveryLog, QueueMonitor queue,
        IConnectionMultiplexer redis, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        try
        {
            return await deliveryLog.GetAsync(taskId, cancellationToken);
        }
        catch (NotFoundException)
        {
            // Without Redis the log's answer stands (at once: a command would wait for the reconnect until it timed out).
            var queued = redis.IsConnected ? await FindQueuedAsync(taskId, queue, loggers, cancellationToken) : null;
            if (queued is null)
            {
                throw;
            }
            return queued;
        }
    }

    private static async Task<DeliveryRecord?> FindQueuedAsync(string taskId, QueueMonitor queue, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        NotificationTask? task;
        try
        {
            task = await queue.FindTaskAsync(taskId, cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogQueueLookupFailed(loggers.CreateLogger(typeof(NotificationsApi)), taskId, ex.Message);
            return null;
        }
        if (task is null)
        {
            return null;
        }
        var c = task.Correlation;
        return new DeliveryRecord(task.Id, DeliveryStatus.Queued, task.Type, task.Recipient, task.RetryCount, null, null, task.LastError,
            c?.BatchId, c?.SubmissionId, c?.StudentId, task.QueuedAt, task.QueuedAt, [new DeliveryTimelineEntry(DeliveryStatus.Queued, task.QueuedAt, 0, null, null)]);
    }

    internal static async Task<Results<Ok<PagedList<DeliveryRecord>>, ValidationProblem>> ListAsync(
        string? batchId, string? recipient, string? status, int? page, int? pageSize, IDeliveryLog deliveryLog, CancellationToken cancellationToken)
    {
        DeliveryStatus? parsedStatus = null;
        if (!string.IsNullOrEmpty(status))
        {
            if (!Enum.TryParse<DeliveryStatus>(status, ignoreCase: true, out var value) || !Enum.IsDefined(value))
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["status"] = [$"must be one of {string.Join(", ", Enum.GetNames<DeliveryStatus>().Select(n => n.ToLowerInvariant()))}."],
                });
            }
            parsedStatus = value;
        }
        var request = Paging.ToRequest(page, pageSize);
        var query = new DeliveryQuery
        {
            BatchId = string.IsNullOrWhiteSpace(batchId) ? null : batchId,
            Recipient = string.IsNullOrWhiteSpace(recipient) ? null : recipient,
            Status = parsedStatus,
        };
        var loaded = await deliveryLog.QueryAsync(query, request, cancellationToken);
        return TypedResults.Ok(new PagedList<DeliveryRecord>(loaded.Items, loaded.Total, page ?? 1, request.Limit));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not look for task {TaskId} in the queue ({Reason}); answering from the delivery log alone")]
    private static partial void LogQueueLookupFailed(ILogger logger, string taskId, string reason);
}
