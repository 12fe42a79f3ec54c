using System.Buffers;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Notifications.Receipts;

namespace Api.Webhooks;

/// <summary>
/// The providers' webhooks: delivery receipts and opt-outs, outside staff authentication, each behind a token of
/// its own in the URL, rate limited per provider and size limited.
/// </summary>
/// <remarks>
/// Answers: 200 once every report is stored (or was before: a retry changes nothing); 400 for a payload that can
/// never be read (nothing of it is stored); 503 with Retry-After while a receipt names a message of ours whose send
/// the worker has not logged yet (BulkSMS retries anything not 2xx for two days; the rest of the payload is stored
/// meanwhile, and its retry finds those receipts already there); 404 for a wrong or unset token.
/// </remarks>
public static class WebhooksApi
{
    public const string RateLimitPolicy = "webhooks";
    private const int NotYetKnownRetrySeconds = 60;

    public static IServiceCollection AddWebhooks(this IServiceCollection services)
    {
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<ReceiptIntake>();
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = (context, _) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = "60";
                return ValueTask.CompletedTask;
            };
            // One window per provider, not per address: a provider calls from many addresses. Any other name shares one
            // window, so made-up provider names cannot make a limiter each.
            limiter.AddPolicy(RateLimitPolicy, context => RateLimitPartition.GetFixedWindowLimiter(
                context.Request.RouteValues["provider"]?.ToString() switch
                {
                    Notifications.Tasks.ProviderNames.BulkSms => Notifications.Tasks.ProviderNames.BulkSms,
                    Notifications.Tasks.ProviderNames.Brevo => Notifications.Tasks.ProviderNames.Brevo,
                    _ => "other",
                },
                _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = context.RequestServices.GetRequiredService<IOptions<WebhookOptions>>().Value.PermitsPerMinute,
                    Window = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                }));
        });
        return services;
    }

    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/webhooks/{provider}").WithTags("Webhooks").AllowAnonymous().RequireRateLimiting(RateLimitPolicy);
        group.MapPost("/{token}", ReceiveAsync)
            .WithSummary("A provider's delivery receipts (bulksms: an array of Message objects; brevo: one transactional event).")
            .DisableAntiforgery();
        return routes;
    }

    internal static async Task<Results<Ok<ReceiptSummary>, ProblemHttpResult>> ReceiveAsync(
        string provider, string token, HttpContext context, IOptions<WebhookOptions> options, ReceiptIntake intake, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var configured = provider switch
        {
            Notifications.Tasks.ProviderNames.BulkSms => settings.BulkSmsToken,
            Notifications.Tasks.ProviderNames.Brevo => settings.BrevoToken,
            _ => null,
        };
        // The same 404 for an unknown provider, an unset token and a wrong one: a guess learns nothing.
        if (!WebhookOptions.Matches(configured, token))
        {
            return TypedResults.Problem("No webhook is at this address.", statusCode: StatusCodes.Status404NotFound);
        }

        var payload = await ReadJsonAsync(context, settings.MaxBodyBytes, cancellationToken);
        if (payload.Problem is { } problem)
        {
            return problem;
        }
        IReadOnlyList<ProviderReport> reports = provider == Notifications.Tasks.ProviderNames.BulkSms
            ? BulkSmsStatusReports.Parse(payload.Json, time.GetUtcNow())
            : [BrevoEvents.Parse(payload.Json)];
        var summary = await intake.ApplyAsync(reports, cancellationToken);
        if (summary.NotYetKnown > 0)
        {
            context.Response.Headers.RetryAfter = NotYetKnownRetrySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Problem(
                $"{summary.NotYetKnown} receipt(s) name messages whose send is not logged yet; the others are stored. Send the payload again later.",
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        return TypedResults.Ok(summary);
    }

    private readonly record struct Payload(JsonElement Json, ProblemHttpResult? Problem);

    /// <summary>The body as JSON, read only up to <paramref name="maxBytes"/>: a larger one is a 413 without reading the rest.</summary>
    private static async Task<Payload> ReadJsonAsync(HttpContext context, int maxBytes, CancellationToken cancellationToken)
    {
        if (context.Request.ContentType is not { } type || !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return new(default, TypedResults.Problem("Send the payload as application/json.", statusCode: StatusCodes.Status415UnsupportedMediaType));
        }
        if (context.Request.ContentLength > maxBytes)
        {
            return new(default, TooLarge(maxBytes));
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = maxBytes;
        }
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            while (true)
            {
                var read = await context.Request.Body.ReadAsync(buffer.GetMemory(16 * 1024), cancellationToken);
                if (read == 0)
                {
                    break;
                }
                buffer.Advance(read);
                if (buffer.WrittenCount > maxBytes)
                {
                    return new(default, TooLarge(maxBytes));
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return new(default, TooLarge(maxBytes));
        }
        try
        {
            using var document = JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = 16 });
            return new(document.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            throw new WebhookPayloadException("body", $"is not JSON: {ex.Message}");
        }
    }

    private static ProblemHttpResult TooLarge(int maxBytes) =>
        TypedResults.Problem($"The payload is larger than {maxBytes} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge);
}
