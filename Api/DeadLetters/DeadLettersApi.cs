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

/// <param name="Confirm">The number of dead letters the operator saw: the action runs only while it still matches.</param>
public sealed record BulkDeadLetterAction(int? Confirm);

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
        // Acting on every dead letter has routes of its own and needs the count the operator saw: a
        // mistyped path (DELETE /api/dead-letters/%2e normalizes to the collection) never reaches them.
        group.MapPost("/retry-all", RetryAllAsync).WithSummary("Queue every dead letter again; the body confirms how many there are.");
        group.MapDelete("/{id}", DeleteAsync).WithSummary("Delete a dead letter.");
        group.MapPost("/delete-all", DeleteAllAsync).WithSummary("Delete every dead letter; the body confirms how many there are.");
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

    internal static async Task<Results<Ok<DeadLetterView>, ProblemHttpResult>> GetAsync(
        string id, Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken) =>
        await deadLetters.GetAsync(id, cancellationToken) is { } letter
            ? TypedResults.Ok(DeadLetterView.From(letter))
            : NotFoundProblem(id);

    internal static async Task<Results<Accepted, ProblemHttpResult>> RetryAsync(
        string id, Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken) =>
        await deadLetters.RetryAsync(id, cancellationToken) ? TypedResults.Accepted($"/api/notifications/{id}") : NotFoundProblem(id);

    internal static async Task<Results<Accepted<DeadLettersAffected>, ValidationProblem, ProblemHttpResult>> RetryAllAsync(
        BulkDeadLetterAction? action, Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken)
    {
        var (invalid, changed) = await CheckConfirmationAsync(action, deadLetters, "retry", cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }
        if (changed is not null)
        {
            return changed;
        }
        return TypedResults.Accepted("/api/monitoring/queue", new DeadLettersAffected(await deadLetters.RetryAllAsync(cancellationToken)));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string id, Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken) =>
        await deadLetters.DeleteAsync(id, cancellationToken) ? TypedResults.NoContent() : NotFoundProblem(id);

    internal static async Task<Results<Ok<DeadLettersAffected>, ValidationProblem, ProblemHttpResult>> DeleteAllAsync(
        BulkDeadLetterAction? action, Notifications.Queue.DeadLetters deadLetters, CancellationToken cancellationToken)
    {
        var (invalid, changed) = await CheckConfirmationAsync(action, deadLetters, "delete", cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }
        if (changed is not null)
        {
            return changed;
        }
        return TypedResults.Ok(new DeadLettersAffected(await deadLetters.DeleteAllAsync(cancellationToken)));
    }

    /// <summary>Both null when the body confirms the current number of dead letters; otherwise why not.</summary>
    private static async Task<(ValidationProblem? Invalid, ProblemHttpResult? Changed)> CheckConfirmationAsync(
        BulkDeadLetterAction? action, Notifications.Queue.DeadLetters deadLetters, string verb, CancellationToken cancellationToken)
    {
        if (action?.Confirm is not { } confirm || confirm < 0)
        {
            return (TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["confirm"] = [$"is required: the number of dead letters you mean to {verb} (all of them), as you saw it."],
            }), null);
        }
        var total = (await deadLetters.ListAsync(new DeadLetterQuery { Limit = 1 }, cancellationToken)).Total;
        return confirm == total
            ? (null, null)
            : (null, TypedResults.Problem($"There are {total} dead letters now, not {confirm}: look at them again before you {verb} them all.",
                statusCode: StatusCodes.Status409Conflict, title: "Dead letters changed"));
    }

    private static ProblemHttpResult NotFoundProblem(string id) =>
        TypedResults.Problem($"No dead letter has id '{id}'.", statusCode: StatusCodes.Status404NotFound, title: "Not found");
}
