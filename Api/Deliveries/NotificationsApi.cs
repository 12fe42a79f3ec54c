using Api.Auth;
using Api.Students;
using Microsoft.AspNetCore.Http.HttpResults;
using Notifications.Stores;

namespace Api.Deliveries;

/// <summary>Delivery status of notification tasks, from the delivery log the Api and the worker write.</summary>
public static class NotificationsApi
{
    public static IEndpointRouteBuilder MapNotificationsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/notifications").WithTags("Notifications").RequireAuthorization(AuthPolicies.Staff);

        group.MapGet("/{taskId}", GetAsync).WithSummary("One notification task with its timeline.");
        group.MapGet("/", ListAsync).WithSummary("Notification tasks by batch, recipient or status, newest first, paged (page from 1).");
        return routes;
    }

    internal static async Task<Ok<DeliveryRecord>> GetAsync(string taskId, IDeliveryLog deliveryLog, CancellationToken cancellationToken) =>
        TypedResults.Ok(await deliveryLog.GetAsync(taskId, cancellationToken));

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
}
