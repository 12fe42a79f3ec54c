namespace Api.Problems;

/// <summary>
/// The detail of the problems the framework answers by itself, before any endpoint runs (routing's 404, 405 and
/// 415, authorization's 401 and 403): by default they carry a title alone, which tells the caller nothing to fix.
/// </summary>
public static class StatusProblems
{
    public static void AddDetail(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Detail is not null)
        {
            return;
        }
        var request = context.HttpContext.Request;
        problem.Detail = problem.Status switch
        {
            StatusCodes.Status401Unauthorized => "Send a valid bearer token (Authorization: Bearer <JWT>): it is missing, expired or not signed with this Api's key.",
            StatusCodes.Status403Forbidden => "Your token's role may not use this route.",
            StatusCodes.Status404NotFound => $"No route of this Api is {request.Path}.",
            StatusCodes.Status405MethodNotAllowed => $"{request.Path} does not take {request.Method}.",
            StatusCodes.Status415UnsupportedMediaType => "This route takes a JSON body, sent with Content-Type: application/json.",
            _ => null,
        };
    }
}
