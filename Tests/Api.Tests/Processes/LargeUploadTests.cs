using System.Net;
using System.Text;
using Api.Students;
using Api.Tests.Infrastructure;
using Notifications.Testing;

namespace Api.Tests.Processes;

/// <summary>
/// The largest upload the limits allow (Upload:MaxRows, 50,000 rows) through an Api process with the deployment's
/// runtime settings, inside a memory cgroup of its unit's MemoryMax (256 MB) where the machine allows one.
/// </summary>
public sealed class LargeUploadTests
{
    private const int Rows = UploadLimits.DefaultMaxRows;
    private static readonly long s_memoryMax = DeployedRuntime.Of("api").MemoryMaxBytes;

    [Theory]
    [InlineData("csv")]
    [InlineData("xlsx")]
    public async Task TheLargestAllowedUpload_IsImportedAndEveryStudentWelcomed_WithinTheApisMemoryMax(string format)
    {
        await using var system = await ApiProcessSystem.StartAsync();
        var file = format == "csv"
            ? Encoding.UTF8.GetBytes(ApiProcessSystem.Csv(Rows, "L"))
            : Uploads.Xlsx(Enumerable.Range(0, Rows).Select(i => (IDictionary<string, object>)new Dictionary<string, object>
            {
                ["name"] = $"Student {i}", ["email"] = $"l{i}@example.edu", ["phone"] = $"+9198{i:D8}", ["roll number"] = $"L{i:D6}", ["batch"] = "B1",
            }));
        using var api = await system.StartApiAsync(s_memoryMax);
        using var http = api.Client(ApiTestHost.Token("staff"));

        using var response = await http.PostAsync("/api/students/upload", Uploads.File(file, "students." + format, "application/octet-stream"), TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {body[..Math.Min(body.Length, 500)]}");
        var report = System.Text.Json.JsonSerializer.Deserialize<UploadReport>(body, ApiTestHost.Json)!;
        Assert.Equal((Rows, 0, 2 * Rows), (report.Imported, report.Rejected.Count, report.NotificationsQueued));
        await system.WaitForOutboxMovedAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(2 * Rows, (await system.QueuedTasksAsync()).Count(t => t.IdempotencyKey?.StartsWith("welcome:", StringComparison.Ordinal) == true));
        Assert.False(api.HasExited, "The Api died during the upload.");
        Assert.False(api.WasOomKilled(), "The kernel killed a process of the Api's cgroup for memory.");
        var peak = api.PeakMemoryBytes();
        TestContext.Current.TestOutputHelper?.WriteLine($"{format}: peak memory {peak / (1024 * 1024)} MB (peak RSS {api.PeakRssBytes() / (1024 * 1024)} MB), " +
            $"cgroup limit {(api.MemoryLimitBytes is { } l ? $"{l / (1024 * 1024)} MB" : "none (not allowed here)")}");
        // In a cgroup the kernel holds the Api to the limit as systemd would: it reclaims page cache (the upload's
        // temporary file, SQLite's pages) and kills only when it cannot, which the checks above would see. Without
        // one, the peak resident set itself is held to the limit.
        if (api.MemoryLimitBytes is null)
        {
            Assert.True(peak < s_memoryMax, $"Peak RSS {peak / (1024 * 1024)} MB is over the {s_memoryMax / (1024 * 1024)} MB the deployment allows.");
        }
    }
}
