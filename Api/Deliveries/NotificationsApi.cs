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
        // A student gets status URLs in the 202 of a submission (one task, or their list for a retry),
        // so they may open them for their own notifications; everything else here is staff's.
        var group = routes.MapGroup("/api/notifications").WithTags("Notifications").RequireAuthorization(AuthPolicies.StaffOrStudent);

        group.MapGet("/{taskId}", GetAsync).WithSummary("One notification task with its timeline (a student: only their own).");
        group.MapGet("/", ListAsync)
            .WithSummary("Notification tasks by batch, recipient or status, newest first, paged (page from 1). A student: their own, by recipient.");
        return routes;
    }

    /// <summary>
    /// From the delivery log; a task the log does not have but the queue does is answered from the queue. The
    /// Api's own notifications are logged as Queued with the write that causes them; tasks queued another way
    /// (alert emails, the legacy intake) have no record until the worker starts on them, and must not be a 404.
    /// </summary>
    /// <remarks>A student asking for another student's task gets the same 404 as for an unknown one.</remarks>
    internal static async Task<Ok<DeliveryRecord>> GetAsync(string taskId, HttpContext context, IDeliveryLog deliveryLog, QueueMonitor queue,
        IConnectionMultiplexer redis, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var record = await FindAsync(taskId, deliveryLog, queue, redis, loggers, cancellationToken);
        if (AuthPolicies.IsStaff(context.User))
        {
            return TypedResults.Ok(record);
        }
        var studentId = context.User.FindFirst(AuthPolicies.SubjectClaim)?.Value;
        return studentId is not null && record.StudentId == studentId
            ? TypedResults.Ok(ForStudent(record))
            : throw new NotFoundException("delivery task", record.TaskId);
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
            if (queued is not null)
            {
                return queued;
            }
        }
        // Neither had it, but the task may have been finished (logged, then removed from the queue) between the two reads.
        return await deliveryLog.GetAsync(taskId, cancellationToken);
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
        // The worker logs every attempt, so a task missing from the log has rarely been tried; if it has, say so.
        var status = task.RetryCount > 0 ? DeliveryStatus.Retrying : DeliveryStatus.Queued;
        var queuedAt = QueuedAt(task);
        var c = task.Correlation;
        return new DeliveryRecord(task.Id, status, task.Type, task.Recipient, task.RetryCount, null, null, task.LastError,
            c?.BatchId, c?.SubmissionId, c?.StudentId, queuedAt, queuedAt, [new DeliveryTimelineEntry(DeliveryStatus.Queued, queuedAt, 0, null, null)]);
    }

    /// <summary>The task's queueing time; a legacy task's timestamp may be anything, so it falls back to the id's time.</summary>
    private static DateTimeOffset QueuedAt(NotificationTask task) =>
        task.Timestamp is > 0 and < 253_402_300_799 ? task.QueuedAt
        : TaskIds.TryGetCreatedAt(task.Id, out var createdAt) ? createdAt : DateTimeOffset.UnixEpoch;

    /// <summary>What a student sees of their notification: its progress, not the providers' ids and error texts.</summary>
    private static DeliveryRecord ForStudent(DeliveryRecord record) => record with
    {
        Provider = null,
        ProviderMessageId = null,
        LastError = null,
        Timeline = [.. record.Timeline.Select(e => e with { Error = null, ProviderMessageId = null })],
    };

    internal static async Task<Results<Ok<PagedList<DeliveryRecord>>, ValidationProblem, ForbidHttpResult>> ListAsync(
        string? batchId, string? recipient, string? status, int? page, int? pageSize, HttpContext context, IDeliveryLog deliveryLog,
        CancellationToken cancellationToken)
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
        var staff = AuthPolicies.IsStaff(context.User);
        if (!staff)
        {
            // A student lists only their own notifications, and by recipient: that filter has an index, theirs does not.
            if (query.Recipient is null)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["recipient"] = ["is required: your phone number or email address."] });
            }
            if (context.User.FindFirst(AuthPolicies.SubjectClaim)?.Value is not { } studentId)
            {
                return TypedResults.Forbid();
            }
            query = query with { StudentId = studentId };
        }
        var loaded = await deliveryLog.QueryAsync(query, request, cancellationToken);
        var items = staff ? loaded.Items : [.. loaded.Items.Select(ForStudent)];
        return TypedResults.Ok(new PagedList<DeliveryRecord>(items, loaded.Total, page ?? 1, request.Limit));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not look for task {TaskId} in the queue ({Reason}); answering from the delivery log alone")]
    private static partial void LogQueueLookupFailed(ILogger logger, string taskId, string reason);
}
