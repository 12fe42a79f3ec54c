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
            BadHttpRequestException e => (e.StatusCode, "Bad request", Describe(e), FieldOf(e)),
            IdempotencyKeyReusedException e => (StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused", e.Message, null),
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

    /// <summary>The binder's sentence, with the JSON reader's (which says where the body went wrong) when there is one.</summary>
    private static string Describe(BadHttpRequestException exception) =>
        exception.InnerException is JsonException json ? $"{exception.Message} {json.Message}"
        : IsMissingBody(exception) ? MissingBody
        : exception.Message;

    private const string MissingBody = "The request has no body; this route takes a JSON body (Content-Type: application/json).";

    // The binder's own words for it end "Did you mean to use a Service instead?", which speaks to the Api's developer, not its caller.
    private static bool IsMissingBody(BadHttpRequestException exception) =>
        exception.Message.Contains("no body was provided", StringComparison.Ordinal)
        || exception.Message.Contains("was not provided from body", StringComparison.Ordinal);

    /// <summary>
    /// The field a binding error is about: the JSON path inside a body ("answers.comment"), "body" for a body that is
    /// missing or unreadable as a whole, else the query or route parameter the binder names ("page").
    /// </summary>
    private static Dictionary<string, string[]>? FieldOf(BadHttpRequestException exception)
    {
        var reason = exception.InnerException is JsonException inner ? inner.Message : IsMissingBody(exception) ? MissingBody : exception.Message;
        if (exception.InnerException is JsonException { Path: { } path })
        {
            var field = path is "$" ? "body" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path;
            return new Dictionary<string, string[]> { [field] = [reason] };
        }
        if (exception.Message.Contains("body", StringComparison.OrdinalIgnoreCase))
        {
            return new Dictionary<string, string[]> { ["body"] = [reason] };
        }
        // The binder's messages name the parameter as "<type> <name>", for example: Failed to bind parameter "int? page" from "abc".
        return BoundParameter().Match(exception.Message) is { Success: true } match
            ? new Dictionary<string, string[]> { [match.Groups["name"].Value] = [reason] }
            : null;
    }

    [GeneratedRegex("""parameter "[^"]* (?<name>[^" ]+)" """, RegexOptions.CultureInvariant)]
    private static partial Regex BoundParameter();
}
