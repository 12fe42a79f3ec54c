using Api.Auth;
using Api.Students;
using Microsoft.AspNetCore.Http.HttpResults;
using Notifications.Stores;
using Notifications.Tasks;

namespace Api.Suppressions;

public sealed record NewSuppression(string? Channel, string? Address, string? Reason);

public sealed record LiftSuppression(string? Note);

/// <summary>
/// The suppression list for staff: who the worker will not send to and why, and lifting an entry (the student
/// fixed their mailbox, or texted START). Every change is audited with the staff member's subject.
/// </summary>
public static class SuppressionsApi
{
    public static IEndpointRouteBuilder MapSuppressionsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/suppressions").WithTags("Suppressions").RequireAuthorization(AuthPolicies.Staff);
        group.MapGet("/", ListAsync).WithSummary("Suppressed recipients, newest first; search matches part of the address.");
        group.MapPost("/", AddAsync).WithSummary("Suppress a recipient by hand (for example at a parent's request).");
        group.MapGet("/audit", AuditAsync).WithSummary("Who added or lifted which suppression, newest first.");
        group.MapGet("/{channel}/{address}", GetAsync).WithSummary("One suppressed recipient (404 when it may be sent to).");
        group.MapPost("/{channel}/{address}/lift", LiftAsync).WithSummary("Lift a suppression: the next notification to the recipient is sent.");
        return routes;
    }

    internal static async Task<Ok<PagedList<Suppression>>> ListAsync(string? search, int? page, int? pageSize, ISuppressionList suppressions,
        CancellationToken cancellationToken)
    {
        var request = Paging.ToRequest(page, pageSize);
        var loaded = await suppressions.ListAsync(search, request, cancellationToken);
        return TypedResults.Ok(new PagedList<Suppression>(loaded.Items, loaded.Total, page ?? 1, request.Limit));
    }

    internal static async Task<Ok<Suppression>> GetAsync(string channel, string address, ISuppressionList suppressions, CancellationToken cancellationToken)
    {
        var parsed = ParseChannel(channel);
        return TypedResults.Ok(await suppressions.FindAsync(parsed, address, cancellationToken)
            ?? throw new NotFoundException("suppression", SuppressionAddress.Normalize(parsed, address)));
    }

    internal static async Task<Created<Suppression>> AddAsync(NewSuppression body, HttpContext context,
        ISuppressionList suppressions, TimeProvider time, CancellationToken cancellationToken)
    {
        var channel = ParseChannel(body.Channel, "channel");
        var suppression = new Suppression(channel, body.Address!, body.Reason!, time.GetUtcNow()) { Source = Actor(context) };
        // The store checks and normalizes the address and reason (400 naming the field); one already listed is a 409.
        if (!await suppressions.AddAsync(suppression, cancellationToken))
        {
            throw new DuplicateKeyException("suppression", "address", SuppressionAddress.Normalize(channel, body.Address ?? ""));
        }
        var stored = (await suppressions.FindAsync(channel, body.Address!, cancellationToken))!;
        return TypedResults.Created($"/api/suppressions/{channel.ToString().ToLowerInvariant()}/{Uri.EscapeDataString(stored.Address)}", stored);
    }

    internal static async Task<Ok<Suppression>> LiftAsync(string channel, string address, LiftSuppression? body, HttpContext context,
        ISuppressionList suppressions, CancellationToken cancellationToken) =>
        TypedResults.Ok(await suppressions.LiftAsync(ParseChannel(channel), address, Actor(context), body?.Note, cancellationToken));

    internal static async Task<Ok<PagedList<SuppressionAuditEntry>>> AuditAsync(string? channel, string? address, int? page, int? pageSize,
        ISuppressionList suppressions, CancellationToken cancellationToken)
    {
        var request = Paging.ToRequest(page, pageSize);
        var parsed = string.IsNullOrEmpty(channel) ? (NotificationType?)null : ParseChannel(channel);
        var loaded = await suppressions.ListAuditAsync(parsed, string.IsNullOrWhiteSpace(address) ? null : address, request, cancellationToken);
        return TypedResults.Ok(new PagedList<SuppressionAuditEntry>(loaded.Items, loaded.Total, page ?? 1, request.Limit));
    }

    /// <summary>"sms" or "email", in any case.</summary>
    private static NotificationType ParseChannel(string? channel, string field = "channel") =>
        Enum.TryParse<NotificationType>(channel, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !int.TryParse(channel, out _)
            ? parsed
            : throw new InvalidFieldException(field, "must be sms or email.");

    /// <summary>The staff member, as their token names them; the audit trail records it.</summary>
    private static string Actor(HttpContext context) =>
        "staff:" + (context.User.FindFirst(AuthPolicies.SubjectClaim)?.Value ?? "unknown");
}
