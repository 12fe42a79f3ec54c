using System.Text.Json;
using System.Text.RegularExpressions;
using Api.Idempotency;
using Api.Students;
using Microsoft.AspNetCore.Diagnostics;
using Notifications.Queue;
using Notifications.Stores;

namespace Api.Problems;

/// <summary>
/// Turns the typed errors of the stores, the queue and request parsing into ProblemDetails, so every
/// caller mistake is a 4xx with a reason; anything else stays a 500 (a bug).
/// </summary>
/// <remarks>
/// Binding errors reach this handler in every environment (<c>RouteHandlerOptions.ThrowOnBadRequest</c> is on in
/// Program.cs): without that, outside Development, minimal APIs answer a bare 400 that names nothing.
/// </remarks>
public sealed partial class ApiExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail, errors) = exception switch
        {
            NotFoundException e => (StatusCodes.Status404NotFound, "Not found", e.Message, null),
            DuplicateKeyException e => (StatusCodes.Status409Conflict, "Already exists", e.Message, null),
            InvalidFieldException e => (StatusCodes.Status400BadRequest, "Invalid field", e.Message,
                new Dictionary<string, string[]> { [e.Field] = [e.Reason] }),
            InvalidNotificationException e => (StatusCodes.Status400BadRequest, "Invalid notification", e.Message, null),
            UploadRejectedException e => (e.StatusCode, "Upload rejected", e.Message, null),
            BadHttpRequestException e => Describe(e),
            IdempotencyKeyReusedException e => (StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused", e.Message, null),
            Webhooks.WebhookPayloadException e => (StatusCodes.Status400BadRequest, "Unreadable webhook payload", e.Message,
                new Dictionary<string, string[]> { [e.Field] = [e.Reason] }),
            _ => (0, "", "", (Dictionary<string, string[]>?)null),
        };
        if (status == 0)
        {
            return false;
        }

        httpContext.Response.StatusCode = status;
        var problem = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail };
        if (errors is not null)
        {
            problem.Extensions["errors"] = errors;
        }
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>
    /// A binding error as a caller can act on it: the binder's sentence, with the JSON reader's (which says where the
    /// body went wrong) when there is one; and the field it is about: the JSON path inside a body ("answers.comment"),
    /// "body" for a body that is missing or unreadable as a whole, else the query or route parameter the binder names ("page").
    /// </summary>
    private static (int Status, string Title, string Detail, Dictionary<string, string[]>? Errors) Describe(BadHttpRequestException exception)
    {
        // The binder's own words for a missing body end "Did you mean to use a Service instead?", which speaks to the
        // Api's developer, not its caller.
        var missingBody = exception.Message.Contains("no body was provided", StringComparison.Ordinal)
            || exception.Message.Contains("was not provided from body", StringComparison.Ordinal);
        var reason = exception.InnerException is JsonException json ? json.Message : missingBody ? MissingBody : exception.Message;
        var detail = exception.InnerException is JsonException ? $"{exception.Message} {reason}" : reason;

        string? field = exception.InnerException is JsonException { Path: { } path }
            ? path is "$" ? "body" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path
            : exception.Message.Contains("body", StringComparison.OrdinalIgnoreCase) ? "body"
            // The binder names the parameter as "<type> <name>", for example: Failed to bind parameter "int? page" from "abc".
            : BoundParameter().Match(exception.Message) is { Success: true } match ? match.Groups["name"].Value
            : null;
        return (exception.StatusCode, "Bad request", detail, field is null ? null : new Dictionary<string, string[]> { [field] = [reason] });
    }

    private const string MissingBody = "The request has no body; this route takes a JSON body (Content-Type: application/json).";

    [GeneratedRegex("""parameter "[^"]* (?<name>[^" ]+)" """, RegexOptions.CultureInvariant)]
    private static partial Regex BoundParameter();
}
