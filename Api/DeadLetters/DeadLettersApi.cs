using Api.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Notifications.Queue;
using Notifications.Tasks;

namespace Api.DeadLetters;

public sealed record DeadLetterView(string Id, DateTimeOffset DiedAt, string Error, NotificationType? Type, string? Recipient, string Payload)
{
    public static DeadLetterView From(DeadLetter letter) =>
        new(letter.Id, letter.DiedAt, letter.Error, letter.Task?.Type, letter.Task?.Recipient, letter.RawPayload);
}

public sealed record DeadLetterList(IReadOnlyList<DeadLetterView> Items, int Total);

public sealed record DeadLettersAffected(int Count);

public static class DeadLettersApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 1000;

    public static IEndpointRouteBuilder MapDeadLettersApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/dead-letters").WithTags("Dead letters").RequireAuthorization(AuthPolicies.Staff);

        group.MapGet("/", ListAsync).WithSummary("Dead letters, newest first; search matches recipient, type, error or id.");
        group.MapGet("/{id}", GetAsync).WithSummary("One dead letter with its error and payload.");
        group.MapPost("/{id}/retry", RetryAsync).WithSummary("Queue a dead letter again.");
        group.MapPost("/retry-all", RetryAllAsync).WithSummary("Queue every dead letter again.");
        group.MapDelete("/{id}", DeleteAsync).WithSummary("Delete a dead letter.");
        group.MapDelete("/", DeleteAllAsync).WithSummary("Delete every dead letter.");
        return routes;
    }

    internal static async Task<Results<Ok<DeadLetterList>, ValidationProblem>> ListAsync(
        string? search, string? type, int? offset, int? limit, Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        NotificationType? parsedType = type?.ToLowerInvariant() switch
        {
            null or "" => null,
            "sms" => NotificationType.Sms,
            "email" => NotificationType.Email,
            _ => Invalid(errors, "type", "must be sms or email."),
        };
        if (offset is < 0)
        {
            errors["offset"] = ["must not be negative."];
        }
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"must be between 1 and {MaxLimit}."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var page = await deadLetters.ListAsync(new DeadLetterQuery
        {
            Search = search, Type = parsedType, Offset = offset ?? 0, Limit = limit ?? DefaultLimit,
        }, cancellationToken);
        return TypedResults.Ok(new DeadLetterList([.. page.Items.Select(DeadLetterView.From)], page.Total));
    }

    private static NotificationType? Invalid(Dictionary<string, string[]> errors, string field, string reason)
    {
        errors[field] = [reason];
        return null;
    }

    internal static async Task<Results<Ok<DeadLetterView>, NotFound<Microsoft.AspNetCore.Mvc.ProblemDetails>>> GetAsync(
        string id, Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken) =>
        await deadLetters.GetAsync(id, cancellationToken) is { } letter
            ? TypedResults.Ok(DeadLetterView.From(letter))
            : NotFoundProblem(id);

    internal static async Task<Results<Accepted, NotFound<Microsoft.AspNetCore.Mvc.ProblemDetails>>> RetryAsync(
        string id, Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken) =>
        await deadLetters.RetryAsync(id, cancellationToken) ? TypedResults.Accepted($"/api/notifications/{id}") : NotFoundProblem(id);

    internal static async Task<Accepted<DeadLettersAffected>> RetryAllAsync(Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken) =>
        TypedResults.Accepted("/api/monitoring/queue", new DeadLettersAffected(await deadLetters.RetryAllAsync(cancellationToken)));

    internal static async Task<Results<NoContent, NotFound<Microsoft.AspNetCore.Mvc.ProblemDetails>>> DeleteAsync(
        string id, Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken) =>
        await deadLetters.DeleteAsync(id, cancellationToken) ? TypedResults.NoContent() : NotFoundProblem(id);

    internal static async Task<Ok<DeadLettersAffected>> DeleteAllAsync(Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken) =>
        TypedResults.Ok(new DeadLettersAffected(await deadLetters.DeleteAllAsync(cancellationToken)));

    private static NotFound<Microsoft.AspNetCore.Mvc.ProblemDetails> NotFoundProblem(string id) =>
        TypedResults.NotFound(new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = StatusCodes.Status404NotFound, Title = "Not found", Detail = $"No dead letter has id '{id}'.",
        });
}
