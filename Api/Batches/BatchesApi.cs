using Api.Auth;
using Api.Idempotency;
using Api.Sending;
using Api.Students;
using Microsoft.AspNetCore.Http.HttpResults;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using Notifications.Templates;

namespace Api.Batches;

public sealed record CreateBatchRequest(string Name, IReadOnlyList<string>? StudentIds);

public sealed record AddStudentsRequest(IReadOnlyList<string>? StudentIds);

public sealed record StudentsAdded(string BatchId, int Added, int NotificationsQueued, IReadOnlyList<string> NotificationIds, string StatusUrl);

/// <summary>
/// A batch's notifications: pending (queued, sending, retrying), sent (the provider took it, no receipt yet),
/// delivered (the provider confirmed it; complaints count here, they reached the student), failed (dead,
/// undelivered, bounced, suppressed); and the SMS parts and credits they took.
/// </summary>
public sealed record BatchProgress(long Sent, long Failed, long Pending, long Total)
{
    public long Delivered { get; init; }
    public long SmsParts { get; init; }
    public double CreditCost { get; init; }
}

public sealed record BatchView(string Id, string Name, DateTimeOffset CreatedAt, IReadOnlyList<string> StudentIds, BatchProgress Progress);

public static class BatchesApi
{
    public static IEndpointRouteBuilder MapBatchesApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/batches").WithTags("Batches").RequireAuthorization(AuthPolicies.Staff);

        group.MapPost("/", CreateAsync).WithSummary("Create a batch; queues a batch notice to each student it starts with.");
        group.MapPost("/{id}/students", AddStudentsAsync).WithSummary("Add students to a batch; queues a batch notice to each one added.");
        group.MapGet("/", ListAsync).WithSummary("Batches, newest first, paged (page from 1).");
        group.MapGet("/{id}", GetAsync).WithSummary("One batch with the progress of its notifications.");
        return routes;
    }

    internal static async Task<Results<Created<Batch>, ValidationProblem>> CreateAsync(CreateBatchRequest request, IBatchStore batches,
        BatchNotices notices, OutboxRelay relay, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["name"] = ["is required."] });
        }
        // The students a batch starts with are added as much as those added later: each gets the notice, stored with the batch.
        var created = await batches.CreateAsync(new NewBatch(request.Name, request.StudentIds), notices.For, cancellationToken);
        relay.Notify();
        return TypedResults.Created($"/api/batches/{created.Batch.Id}", created.Batch);
    }

    internal static async Task<Results<Accepted<StudentsAdded>, ValidationProblem>> AddStudentsAsync(
        string id, AddStudentsRequest request, HttpContext context, IBatchStore batches, BatchNotices notices, OutboxRelay relay,
        IdempotentResponses responses, CancellationToken cancellationToken)
    {
        var idempotencyKey = IdempotencyKeys.FromRequest(context, "batch-students:" + id);
        var fingerprint = IdempotentResponses.Fingerprint((request.StudentIds ?? []).Order(StringComparer.Ordinal));
        if (await responses.FindAsync<StudentsAdded>(idempotencyKey, fingerprint) is { } earlier)
        {
            return TypedResults.Accepted(earlier.StatusUrl, earlier);
        }
        if (request.StudentIds is not { Count: > 0 })
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["studentIds"] = ["must name at least one student."] });
        }

        // Only the students the batch did not have are added, and noticed, in the same transaction.
        var change = await batches.AddStudentsAsync(id, request.StudentIds, notices.For, cancellationToken);
        relay.Notify();
        var statusUrl = $"/api/batches/{change.Batch.Id}";
        var result = new StudentsAdded(change.Batch.Id, change.AddedStudentIds.Count, change.NotificationIds.Count, change.NotificationIds, statusUrl);
        await responses.SaveAsync(idempotencyKey, fingerprint, result);
        return TypedResults.Accepted(statusUrl, result);
    }

    internal static async Task<Ok<PagedList<BatchView>>> ListAsync(int? page, int? pageSize, IBatchStore batches, IDeliveryLog deliveryLog,
        CancellationToken cancellationToken)
    {
        var request = Paging.ToRequest(page, pageSize);
        var loaded = await batches.ListAsync(request, cancellationToken);
        var views = new List<BatchView>(loaded.Items.Count);
        foreach (var batch in loaded.Items)
        {
            views.Add(await ViewAsync(batch, deliveryLog, cancellationToken));
        }
        return TypedResults.Ok(new PagedList<BatchView>(views, loaded.Total, page ?? 1, request.Limit));
    }

    internal static async Task<Ok<BatchView>> GetAsync(string id, IBatchStore batches, IDeliveryLog deliveryLog, CancellationToken cancellationToken) =>
        TypedResults.Ok(await ViewAsync(await batches.GetAsync(id, cancellationToken), deliveryLog, cancellationToken));

    private static async Task<BatchView> ViewAsync(Batch batch, IDeliveryLog deliveryLog, CancellationToken cancellationToken)
    {
        var progress = await deliveryLog.GetBatchProgressAsync(batch.Id, cancellationToken);
        long Count(DeliveryStatus status) => progress.ByStatus.TryGetValue(status, out var n) ? n : 0;
        long Sum(Func<DeliveryStatus, bool> which) => progress.ByStatus.Where(s => which(s.Key)).Sum(s => s.Value);
        // Retrying tasks are still on their way; only dead, undelivered, bounced and suppressed ones have failed for good.
        var view = new BatchProgress(
            Sent: Count(DeliveryStatus.Sent),
            Failed: Sum(DeliveryStatuses.IsFailure),
            Pending: Sum(DeliveryStatuses.IsPending),
            Total: progress.Total)
        {
            Delivered = Count(DeliveryStatus.Delivered) + Count(DeliveryStatus.Complained),
            SmsParts = progress.SmsParts,
            CreditCost = progress.CreditCost,
        };
        return new BatchView(batch.Id, batch.Name, batch.CreatedAt, batch.StudentIds, view);
    }
}
