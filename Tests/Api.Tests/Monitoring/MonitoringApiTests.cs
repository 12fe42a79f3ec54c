using System.Net;
using System.Text.Json;
using Api.Caching;
using Api.Monitoring;
using Api.Tests.Infrastructure;
using Notifications.Monitoring;
using Notifications.Queue;

namespace Api.Tests.Monitoring;

public sealed class MonitoringApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Queue_ReturnsStats_WithPendingPerLane()
    {
        await using var host = await ApiTestHost.StartAsync();
        await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(2)), Ct);

        var json = JsonDocument.Parse(await host.Staff().GetStringAsync("/api/monitoring/queue", Ct)).RootElement;
        Assert.Equal(4, json.GetProperty("pending").GetInt64());
        Assert.Contains(json.GetProperty("lanes").EnumerateArray(), l => l.GetProperty("priority").GetString() == "bulk" && l.GetProperty("pending").GetInt64() == 4);
    }

    [Fact]
    public async Task System_ReportsEachMetricWithLevel()
    {
        await using var host = await ApiTestHost.StartAsync();
        await new ProcessMemoryReporterProbe().WaitForReportAsync(host, Ct);

        var snapshot = await ApiTestHost.ReadAsync<SystemSnapshot>(await host.Staff().GetAsync("/api/monitoring/system", Ct));

        Assert.True(snapshot.RedisAvailable);
        Assert.Equal([MetricNames.RedisMemory, MetricNames.AppMemory, MetricNames.Disk, MetricNames.Pending], snapshot.Metrics.Select(m => m.Name));
        var redis = snapshot.Metrics[0];
        Assert.True(redis.Value > 0);
        Assert.Equal(400.0 * 1024 * 1024, redis.Threshold);
        Assert.Equal(512.0 * 1024 * 1024, redis.Capacity);
        Assert.Equal(MetricLevels.Green, redis.Level);
        Assert.True(snapshot.Metrics[1].Value > 0, "the Api's own memory report counts");
        Assert.Equal(1000, snapshot.Metrics[3].Threshold);
    }

    [Fact]
    public async Task ReportedMemory_IsListed_AndCountsInApplicationMemory()
    {
        await using var host = await ApiTestHost.StartAsync();
        await new ProcessMemoryReporterProbe().WaitForReportAsync(host, Ct);
        const long dashboardBytes = 3L * 1024 * 1024 * 1024;

        var put = await Dashboard(host).PutAsync("/api/monitoring/memory/web-dashboard/host-1.4242", ApiTestHost.JsonBody(new { workingSetBytes = dashboardBytes }), Ct);

        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        var reports = await ApiTestHost.ReadAsync<List<ProcessMemoryReport>>(await host.Staff().GetAsync("/api/monitoring/memory", Ct));
        Assert.Contains(new ProcessMemoryReport("web-dashboard", "host-1.4242", dashboardBytes), reports);
        Assert.Contains(reports, r => r.Service == "api");
        var snapshot = await ApiTestHost.ReadAsync<SystemSnapshot>(await host.Staff().GetAsync("/api/monitoring/system", Ct));
        // The dashboard's report plus the Api's own (which the Api refreshes meanwhile, so not an exact sum).
        Assert.InRange(snapshot.Metrics.Single(m => m.Name == MetricNames.AppMemory).Value!.Value, dashboardBytes + 1, dashboardBytes + (2.0 * 1024 * 1024 * 1024));
        Assert.True(await host.Multiplexer.GetDatabase().KeyTimeToLiveAsync(MemoryReportKeys.For("web-dashboard", "host-1.4242")) <= ProcessMemoryReporter.ReportLifetime);
    }

    [Theory]
    [InlineData("Web Dashboard", "host-1", 1000)]
    [InlineData("notification-worker", "host-1", 1000)]
    [InlineData("web-dashboard", "host 1", 1000)]
    [InlineData("web-dashboard", "host-1", 0)]
    [InlineData("web-dashboard", "host-1", -5)]
    [InlineData("web-dashboard", "host-1", 2L << 40)]
    public async Task ReportedMemory_IsRejected_WhenMalformed_AndNothingIsStored(string service, string instance, long bytes)
    {
        await using var host = await ApiTestHost.StartAsync();

        var put = await Dashboard(host).PutAsync($"/api/monitoring/memory/{Uri.EscapeDataString(service)}/{Uri.EscapeDataString(instance)}",
            ApiTestHost.JsonBody(new { workingSetBytes = bytes }), Ct);

        await ProblemAssert.IsProblemAsync(put, HttpStatusCode.BadRequest);
        var reports = await ApiTestHost.ReadAsync<List<ProcessMemoryReport>>(await host.Staff().GetAsync("/api/monitoring/memory", Ct));
        Assert.DoesNotContain(reports, r => r.Service != "api");
    }

    [Fact]
    public async Task ReportedMemory_IsTakenOnlyFromTheServicesOwnToken()
    {
        await using var host = await ApiTestHost.StartAsync();
        var body = ApiTestHost.JsonBody(new { workingSetBytes = 1000 });

        Assert.Equal(HttpStatusCode.Forbidden, (await host.Student("s1").PutAsync("/api/monitoring/memory/web-dashboard/host-1", body, Ct)).StatusCode);
        // A staff member is not the dashboard.
        await ProblemAssert.IsProblemAsync(await host.Staff().PutAsync("/api/monitoring/memory/web-dashboard/host-1", body, Ct), HttpStatusCode.Forbidden);
        var reports = await ApiTestHost.ReadAsync<List<ProcessMemoryReport>>(await host.Staff().GetAsync("/api/monitoring/memory", Ct));
        Assert.DoesNotContain(reports, r => r.Service == "web-dashboard");
    }

    /// <summary>A client with the token the dashboard mints for its reports.</summary>
    private static HttpClient Dashboard(ApiTestHost host) => host.WithToken(ApiTestHost.Token("staff", "service:web-dashboard"));

    [Theory]
    [InlineData(100, MetricLevels.Green)]
    [InlineData(799, MetricLevels.Green)]
    [InlineData(800, MetricLevels.Amber)]
    [InlineData(999, MetricLevels.Amber)]
    [InlineData(1000, MetricLevels.Red)]
    [InlineData(5000, MetricLevels.Red)]
    public void Rate_ColoursAgainstThreshold(double value, string level)
    {
        Assert.Equal(level, SystemMetrics.Rate("pending", value, 1000, null, "tasks", 0.8).Level);
    }

    [Fact]
    public void Rate_IsUnknown_WhenValueIsMissing()
    {
        Assert.Equal(MetricLevels.Unknown, SystemMetrics.Rate("redis-memory", null, 1000, null, "bytes", 0.8).Level);
    }

    [Fact]
    public async Task Alerts_ListAProviderCircuitAWorkerOpened_UntilItCloses()
    {
        await using var host = await ApiTestHost.StartAsync();
        var circuits = new Notifications.Monitoring.ProviderCircuits(host.Multiplexer);
        var since = DateTimeOffset.UtcNow;
        await circuits.ReportOpenAsync(new("bulksms", since, since.AddMinutes(1), "BulkSMS 400 invalid-request: deduplication-id is out of range."));

        var alerts = await ApiTestHost.ReadAsync<List<ActiveAlert>>(await host.Staff().GetAsync("/api/monitoring/alerts", Ct));
        var circuit = Assert.Single(alerts, a => a.Metric == AlertBoard.CircuitMetric("bulksms"));
        Assert.Equal(MetricLevels.Red, circuit.Level);
        Assert.Contains("deduplication-id is out of range", circuit.Message);
        Assert.Contains("wait in the queue", circuit.Message);

        await circuits.ReportClosedAsync("bulksms");
        alerts = await ApiTestHost.ReadAsync<List<ActiveAlert>>(await host.Staff().GetAsync("/api/monitoring/alerts", Ct));
        Assert.DoesNotContain(alerts, a => a.Metric == AlertBoard.CircuitMetric("bulksms"));
    }

    [Fact]
    public async Task Alerts_ListRedMetric_AndAlertEmailIsQueuedOncePerCooldown()
    {
        await using var host = await ApiTestHost.StartAsync(s =>
        {
            s["Monitoring:Thresholds:PendingTasks"] = "2";
            // Only the pending metric may turn red here, whatever this machine's disk holds and however much
            // memory this test process (every test's Api at once) has: CI once saw the process pass 800 MB,
            // and the app-memory alert's two emails doubled the count below.
            var never = long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture);
            s["Monitoring:Thresholds:DiskBytes"] = never;
            s["Monitoring:Thresholds:DiskCapacityBytes"] = never;
            s["Monitoring:Thresholds:AppMemoryBytes"] = never;
            s["Monitoring:Thresholds:AppMemoryCapacityBytes"] = never;
            s["Monitoring:Thresholds:RedisMemoryBytes"] = never;
            s["Monitoring:Thresholds:RedisMemoryCapacityBytes"] = never;
            // The Api's own loop checks once at start (nothing pending yet) and not again during the test.
            s["Monitoring:AlertCheckInterval"] = "01:00:00";
            s["Monitoring:AdminEmails:0"] = "ops@example.edu";
            s["Monitoring:AdminEmails:1"] = "lead@example.edu";
        });
        await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(2)), Ct);

        var alerts = await ApiTestHost.ReadAsync<List<ActiveAlert>>(await host.Staff().GetAsync("/api/monitoring/alerts", Ct));
        var pending = Assert.Single(alerts, a => a.Metric == MetricNames.Pending);
        Assert.Equal(MetricLevels.Red, pending.Level);

        var monitor = host.Service<AlertMonitor>();
        Assert.Equal([MetricNames.Pending], await monitor.CheckOnceAsync(Ct));
        Assert.Empty(await monitor.CheckOnceAsync(Ct));
        var stats = await host.QueueStatsAsync();
        Assert.Equal(2, stats.Lanes.Single(l => l.Priority == Notifications.Tasks.NotificationPriority.High).Pending);
    }

    [Fact]
    public async Task Cache_ReturnsHitsMissesAndRate()
    {
        await using var host = await ApiTestHost.StartAsync();
        for (var i = 0; i < 4; i++)
        {
            await host.Staff().GetAsync("/api/forms/active", Ct);
        }
        var stats = await ApiTestHost.ReadAsync<CacheStats>(await host.Staff().GetAsync("/api/monitoring/cache", Ct));
        Assert.Equal(new CacheStats(3, 1, 0.75), stats);
    }

    [Fact]
    public async Task Health_ReportsDependencies_AndWorkerFromItsMemoryReport()
    {
        await using var host = await ApiTestHost.StartAsync();
        var before = await ApiTestHost.ReadAsync<HealthView>(await host.Staff().GetAsync("/api/monitoring/health", Ct));
        Assert.Equal("unhealthy", before.Dependencies.Single(d => d.Name == "worker").Status);
        Assert.Equal("healthy", before.Dependencies.Single(d => d.Name == "redis").Status);
        Assert.Equal("healthy", before.Dependencies.Single(d => d.Name == "document-store").Status);

        await host.Multiplexer.GetDatabase().StringSetAsync(MemoryReportKeys.For(MonitoringApi.WorkerServiceName, "w1"), 50_000_000, TimeSpan.FromSeconds(30));
        var after = await ApiTestHost.ReadAsync<HealthView>(await host.Staff().GetAsync("/api/monitoring/health", Ct));
        Assert.Equal("healthy", after.Dependencies.Single(d => d.Name == "worker").Status);
        Assert.Equal("healthy", after.Status);
    }

    [Fact]
    public async Task MemoryReport_HasTtl_AndIsSummedIntoAppMemory()
    {
        await using var host = await ApiTestHost.StartAsync();
        await new ProcessMemoryReporterProbe().WaitForReportAsync(host, Ct);
        var reports = await host.Service<ProcessMemoryReports>().ReadAsync(Ct);
        var own = Assert.Single(reports);
        Assert.Equal("api", own.Service);
        var ttl = await host.Multiplexer.GetDatabase().KeyTimeToLiveAsync(MemoryReportKeys.For(own.Service, own.Instance));
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(1), ProcessMemoryReporter.ReportLifetime);
    }
}

/// <summary>Waits for the Api's first memory report (the reporter writes one at start).</summary>
public sealed class ProcessMemoryReporterProbe
{
    public async Task WaitForReportAsync(ApiTestHost host, CancellationToken cancellationToken)
    {
        var reports = host.Service<ProcessMemoryReports>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await reports.ReadAsync(cancellationToken)).Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, cancellationToken);
        }
    }
}
