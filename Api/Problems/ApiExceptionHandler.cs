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
public sealed class ApiExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
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
            BadHttpRequestException e => (e.StatusCode, "Bad request", e.Message, null),
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
}
