using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;

namespace Api.Problems;

/// <summary>
/// Refuses, with a ProblemDetails 400 naming the part, a request target that would reach another resource than the
/// one it names, or that carries values no route or query of this Api takes:
/// <list type="bullet">
/// <item>a <c>.</c> or <c>..</c> path segment, literal or percent-encoded: the server removes them before routing, so
/// <c>DELETE /api/dead-letters/%2e</c> would act on the collection;</item>
/// <item>an encoded <c>/</c> or <c>\</c> inside a segment (<c>%2f</c>), which routing keeps as text of one value;</item>
/// <item>a route or query value with a control character, or longer than any id, name or search this Api stores.</item>
/// </list>
/// Runs after routing (route values are known) and before authentication: such a target is refused whoever sends it.
/// </summary>
/// <remarks>An encoded NUL in the path never gets here: Kestrel answers it with a bare 400 itself (see the README).</remarks>
public sealed class RequestTargetGuard(RequestDelegate next, IProblemDetailsService problemDetails)
{
    /// <summary>The longest route value: ids are at most 64 characters, a memory reporter's instance name 128.</summary>
    public const int MaxRouteValueLength = 128;

    /// <summary>The longest query value: a recipient (an email address, 254) or a search.</summary>
    public const int MaxQueryValueLength = 256;

    public async Task InvokeAsync(HttpContext context)
    {
        if (Check(context) is { } errors)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await problemDetails.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = new ProblemDetails
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "Invalid request target",
                    Detail = "The path or query holds a value no route of this Api takes; nothing was done.",
                    Extensions = { ["errors"] = errors },
                },
            });
            return;
        }
        await next(context);
    }

    private static Dictionary<string, string[]>? Check(HttpContext context)
    {
        var errors = new Dictionary<string, string[]>();
        CheckRawPath(context, errors);
        if (context.GetEndpoint() is RouteEndpoint endpoint)
        {
            foreach (var parameter in endpoint.RoutePattern.Parameters)
            {
                if (context.Request.RouteValues.TryGetValue(parameter.Name, out var value) && value is string text
                    && Problem(text, MaxRouteValueLength) is { } reason)
                {
                    errors[parameter.Name] = [reason];
                }
            }
        }
        foreach (var (name, values) in context.Request.Query)
        {
            foreach (var value in values)
            {
                if (value is not null && Problem(value, MaxQueryValueLength) is { } reason)
                {
                    errors[name] = [reason];
                }
            }
        }
        return errors.Count > 0 ? errors : null;
    }

    /// <summary>The path as the client sent it: by <see cref="HttpRequest.Path"/> its dot segments are already gone.</summary>
    private static void CheckRawPath(HttpContext context, Dictionary<string, string[]> errors)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        var path = (query >= 0 ? raw.AsSpan(0, query) : raw.AsSpan());
        // Every request passes here: segments are sliced, not copied, and decoded only when they hold an escape.
        foreach (var range in path.Split('/'))
        {
            var segment = path[range];
            var decoded = segment.Contains('%') ? Uri.UnescapeDataString(segment.ToString()) : segment;
            if (decoded is "." or "..")
            {
                errors["path"] = [$"has the segment '{segment.ToString()}': '.' and '..' segments are not taken; name the resource itself."];
                return;
            }
            if (decoded.ContainsAny('/', '\\'))
            {
                errors["path"] = [$"has the segment '{segment.ToString()}', which holds an encoded '/' or '\\'."];
                return;
            }
        }
    }

    private static string? Problem(string value, int maxLength)
    {
        if (value.Length > maxLength)
        {
            return $"is {value.Length} characters long; at most {maxLength} are taken.";
        }
        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                return $"holds the control character U+{(int)c:X4}.";
            }
        }
        return null;
    }
}
