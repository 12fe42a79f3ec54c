using System.Security.Claims;
using Api.Auth;
using Api.Caching;
using Api.Sending;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Notifications.Monitoring;
using Notifications.Queue;
using Notifications.Stores;
using StackExchange.Redis;

namespace Api.Monitoring;

public sealed record DependencyHealth(string Name, string Status, string? Description);

public sealed record HealthView(string Status, IReadOnlyList<DependencyHealth> Dependencies);

/// <param name="WorkingSetBytes">The reporting process's working set.</param>
public sealed record MemoryReportRequest(long WorkingSetBytes);

public static class MonitoringApi
{
    public const string WorkerServiceName = "notification-worker";

    public static IEndpointRouteBuilder MapMonitoringApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/monitoring").WithTags("Monitoring").RequireAuthorization(AuthPolicies.Staff);

        group.MapGet("/queue", QueueAsync).WithSummary("Queue depth per lane, counters, throughput and oldest pending age.");
        group.MapGet("/cache", CacheAsync).WithSummary("Cache hits, misses and hit rate across every Api instance.");
        group.MapGet("/system", SystemAsync).WithSummary("Redis memory, application memory, disk and pending tasks against their thresholds.");
        group.MapGet("/sms-usage", SmsUsageAsync)
            .WithSummary("SMS per UTC day (by queueing): messages, parts (segments) and provider credits; from/to are dates, the last 30 days by default.");
        group.MapGet("/alerts", AlertsAsync).WithSummary("Metrics at amber or red now.");
        group.MapGet("/health", HealthAsync).WithSummary("Health of Redis, the document store and the worker.");
        group.MapGet("/memory", MemoryAsync).WithSummary("The memory each live process reported (they report every 10 s; a report lasts 30 s).");
        group.MapPut("/memory/{service}/{instance}", ReportMemoryAsync)
            .WithSummary("Report a process's memory for a service without its own Redis connection (the dashboard).");
        return routes;
    }

    /// <summary>The SMS of a range of UTC days and their totals.</summary>
    public sealed record SmsUsage(DateOnly From, DateOnly To, IReadOnlyList<SmsUsageDay> Days, long Messages, long Parts, double CreditCost);

    /// <param name="from">First day, inclusive (yyyy-MM-dd).</param>
    /// <param name="to">Last day, inclusive.</param>
    internal static async Task<Ok<SmsUsage>> SmsUsageAsync(DateOnly? from, DateOnly? to, IDeliveryLog deliveryLog, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        if (from?.Year is < 2000 or > 9000 || to?.Year is < 2000 or > 9000)
        {
            throw new InvalidFieldException(from?.Year is < 2000 or > 9000 ? "from" : "to", "must be a date from the year 2000 to 9000.");
        }
        var last = to ?? today;
        var first = from ?? last.AddDays(-29);
        if (last < first)
        {
            throw new InvalidFieldException("to", "must not be before from.");
        }
        var start = new DateTimeOffset(first.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var end = new DateTimeOffset(last.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var days = await deliveryLog.GetSmsUsageAsync(start, end, cancellationToken);
        return TypedResults.Ok(new SmsUsage(first, last, days, days.Sum(d => d.Messages), days.Sum(d => d.Parts), Math.Round(days.Sum(d => d.CreditCost), 4)));
    }

    internal static async Task<Results<Ok<QueueStats>, ProblemHttpResult>> QueueAsync(QueueMonitor queue, IConnectionMultiplexer redis, CancellationToken cancellationToken)
    {
        try
        {
            return TypedResults.Ok(await queue.GetStatsAsync(cancellationToken));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return RedisUnavailable(ex);
        }
    }

    internal static async Task<Results<Ok<CacheStats>, ProblemHttpResult>> CacheAsync(ApiCache cache)
    {
        try
        {
            return TypedResults.Ok(await cache.GetStatsAsync());
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return RedisUnavailable(ex);
        }
    }

    internal static async Task<Ok<SystemSnapshot>> SystemAsync(SystemMetrics metrics, AlertBoard board, CancellationToken cancellationToken)
    {
        var snapshot = await metrics.MeasureAsync(cancellationToken);
        board.Update(snapshot);
        return TypedResults.Ok(snapshot);
    }

    internal static async Task<Ok<IReadOnlyList<ActiveAlert>>> AlertsAsync(SystemMetrics metrics, AlertBoard board, CancellationToken cancellationToken) =>
        TypedResults.Ok(board.Update(await metrics.MeasureAsync(cancellationToken)));

    internal static async Task<Ok<HealthView>> HealthAsync(HealthCheckService health, ProcessMemoryReports memoryReports, IConnectionMultiplexer redis,
        CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(r => r.Name is QueueHealthCheck.Name or DocumentStoreExtensions.HealthCheckName, cancellationToken);
        var dependencies = new List<DependencyHealth>();
        if (report.Entries.TryGetValue(QueueHealthCheck.Name, out var queue))
        {
            dependencies.Add(new DependencyHealth("redis", queue.Status == HealthStatus.Healthy || (redis.IsConnected && queue.Status == HealthStatus.Degraded) ? "healthy" : "unhealthy",
                queue.Description));
            dependencies.Add(new DependencyHealth("outbox", queue.Status.ToString().ToLowerInvariant(), queue.Description));
        }
        if (report.Entries.TryGetValue(DocumentStoreExtensions.HealthCheckName, out var store))
        {
            dependencies.Add(new DependencyHealth("document-store", store.Status.ToString().ToLowerInvariant(), store.Description));
        }

        // The worker writes a memory report every 10 s that expires after 30 s: no report, no live worker.
        var workers = 0;
        if (redis.IsConnected)
        {
            try
            {
                workers = (await memoryReports.ReadAsync(cancellationToken)).Count(r => r.Service == WorkerServiceName);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                workers = 0;
            }
        }
        dependencies.Add(new DependencyHealth("worker", workers > 0 ? "healthy" : "unhealthy",
            workers > 0 ? $"{workers} worker process(es) reported in the last {ProcessMemoryReporter.ReportLifetime.TotalSeconds:0} s." : "No worker has reported recently."));

        var overall = dependencies.Any(d => d.Status == "unhealthy") ? "unhealthy" : dependencies.Any(d => d.Status == "degraded") ? "degraded" : "healthy";
        return TypedResults.Ok(new HealthView(overall, dependencies));
    }

    internal static async Task<Results<Ok<IReadOnlyList<ProcessMemoryReport>>, ProblemHttpResult>> MemoryAsync(ProcessMemoryReports memoryReports,
        CancellationToken cancellationToken)
    {
        try
        {
            return TypedResults.Ok(await memoryReports.ReadAsync(cancellationToken));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return RedisUnavailable(ex);
        }
    }

    internal static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> ReportMemoryAsync(string service, string instance,
        MemoryReportRequest report, ClaimsPrincipal caller, IConnectionMultiplexer redis)
    {
        var errors = new Dictionary<string, string[]>();
        if (!RemoteMemoryReporters.Contains(service))
        {
            errors["service"] = [$"only services without a Redis connection of their own report here: {string.Join(", ", RemoteMemoryReporters)}."];
        }
        if (!MemoryReportKeys.IsInstanceName(instance))
        {
            errors["instance"] = ["must be letters, digits, '.', '-' or '_', at most 128 characters."];
        }
        if (report.WorkingSetBytes is <= 0 or > MaxReportedBytes)
        {
            errors["workingSetBytes"] = [$"must be between 1 and {MaxReportedBytes}."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        // The service's own token (the dashboard mints it with its signing key), not a person's: a staff member
        // could otherwise stand in for a service, and a fake report changes the alerts.
        if (caller.FindFirst(AuthPolicies.SubjectClaim)?.Value != ServiceSubjectPrefix + service)
        {
            return TypedResults.Problem($"Only {ServiceSubjectPrefix}{service} reports the memory of {service}.", statusCode: StatusCodes.Status403Forbidden);
        }
        try
        {
            await ProcessMemoryReports.WriteAsync(redis, service, instance, report.WorkingSetBytes);
            return TypedResults.NoContent();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return RedisUnavailable(ex);
        }
    }

    // A terabyte: far beyond any process on the machines this runs on, and a bound on typos.
    private const long MaxReportedBytes = 1L << 40;

    /// <summary>Services that report their memory through the Api; the others write their reports to Redis themselves.</summary>
    public static readonly IReadOnlySet<string> RemoteMemoryReporters = new HashSet<string>(StringComparer.Ordinal) { "web-dashboard" };

    /// <summary>A service's token has the subject <c>service:&lt;service&gt;</c>.</summary>
    public const string ServiceSubjectPrefix = "service:";

    private static ProblemHttpResult RedisUnavailable(Exception ex) =>
        TypedResults.Problem($"Redis is not available: {ex.Message}", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Redis unavailable");
}
