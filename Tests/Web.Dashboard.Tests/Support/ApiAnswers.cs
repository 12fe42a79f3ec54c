namespace Web.Dashboard.Tests.Support;

/// <summary>Bodies shaped as the Api contract describes them (camelCase, enums as strings), not as the dashboard's DTOs.</summary>
public static class ApiAnswers
{
    public static object QueueStats(long highPending = 0, long normalPending = 0, long bulkPending = 0, long dead = 0, string? oldestPendingAge = null) => new
    {
        lanes = new[]
        {
            new { priority = "high", pending = highPending, scheduled = 0L, leased = 0L },
            new { priority = "normal", pending = normalPending, scheduled = 2L, leased = 1L },
            new { priority = "bulk", pending = bulkPending, scheduled = 0L, leased = 0L },
        },
        dead,
        counters = new { enqueued = 100L, processed = 90L, failed = 3L, retried = 2L, deadLettered = dead, recovered = 0L, revived = 0L },
        oldestPendingAge,
        throughput = Enumerable.Range(0, 60).Select(i => new { minute = DateTimeOffset.UtcNow.AddMinutes(i - 60), completed = (long)(i % 7) }).ToArray(),
        pending = highPending + normalPending + bulkPending,
        scheduled = 2L,
        leased = 1L,
    };

    public static object Cache(long hits, long misses) => new { hits, misses, hitRate = hits + misses == 0 ? 0 : hits / (double)(hits + misses) };

    public static object Metric(string name, double? value, double threshold, double? capacity, string unit, string level) =>
        new { name, value, threshold, capacity, unit, level };

    public static object System(params object[] metrics) => new { metrics, redisAvailable = true };

    /// <summary>The Api's health view: a list of dependencies with lower-case statuses.</summary>
    public static object Health(string status, params (string Name, string Status)[] dependencies) => new
    {
        status,
        dependencies = dependencies.Select(d => new { name = d.Name, status = d.Status, description = (string?)$"{d.Name} is {d.Status}" }).ToArray(),
    };

    public static object DeadLetter(string id, string recipient = "+15550000001", string error = "Provider said: invalid number") => new
    {
        id,
        diedAt = DateTimeOffset.UtcNow.AddMinutes(-5),
        error,
        type = "sms",
        recipient,
        // The Api sends the task as stored in Redis: its raw JSON text.
        payload = $$"""{"id":"{{id}}","type":"sms","data":{"phone":"{{recipient}}","message":"Welcome"},"retry_count":4,"max_retries":3}""",
    };

    public static object Page(object[] items, int total) => new { items, total };
}
