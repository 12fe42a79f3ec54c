using Api.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Notifications.Outbox;

namespace Api.Outbox;

/// <summary>The default outbox provider's messages, as the student would see them (written by the worker).</summary>
public static class OutboxApi
{
    public const int DefaultLimit = 50;

    public static IEndpointRouteBuilder MapOutboxApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/outbox").WithTags("Outbox").RequireAuthorization(AuthPolicies.Staff);

        group.MapGet("/", ListAsync).WithSummary("Outbox messages, newest first.");
        group.MapGet("/{id}", GetAsync).WithSummary("One outbox message.");
        return routes;
    }

    internal static async Task<Results<Ok<OutboxPage>, ValidationProblem>> ListAsync(int? offset, int? limit, OutboxReader outbox, CancellationToken cancellationToken)
    {
        if (offset is < 0 || limit is < 1 or > OutboxReader.MaxPageSize)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["offset/limit"] = [$"offset must not be negative; limit must be between 1 and {OutboxReader.MaxPageSize}."],
            });
        }
        return TypedResults.Ok(await outbox.ListAsync(offset ?? 0, limit ?? DefaultLimit, cancellationToken));
    }

    internal static async Task<Results<Ok<OutboxMessage>, NotFound<Microsoft.AspNetCore.Mvc.ProblemDetails>>> GetAsync(
        string id, OutboxReader outbox, CancellationToken cancellationToken) =>
        await outbox.FindAsync(id, cancellationToken) is { } message
            ? TypedResults.Ok(message)
            : TypedResults.NotFound(new Microsoft.AspNetCore.Mvc.ProblemDetails
            {
                Status = StatusCodes.Status404NotFound, Title = "Not found", Detail = $"No outbox message has id '{id}'.",
            });
}
