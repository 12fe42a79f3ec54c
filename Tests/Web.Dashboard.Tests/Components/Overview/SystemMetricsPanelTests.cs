using Bunit;
using Web.Dashboard.Components.Overview;
using Web.Dashboard.Services;

namespace Web.Dashboard.Tests.Components.Overview;

public sealed class SystemMetricsPanelTests : BunitContext
{
    private const double Megabyte = 1024 * 1024;

    [Theory]
    [InlineData("green", "level-green")]
    [InlineData("amber", "level-amber")]
    [InlineData("red", "level-red")]
    [InlineData("unknown", "level-unknown")]
    [InlineData("purple", "level-unknown")]
    [InlineData("RED", "level-red")]
    public void Tile_IsColouredByTheApisLevel(string level, string expectedClass)
    {
        var panel = Render<SystemMetricsPanel>(p => p.Add(x => x.Metrics, Metrics(new SystemMetric("redis-memory", 100 * Megabyte, 400 * Megabyte, 512 * Megabyte, "bytes", level))));

        var tile = panel.Find("[data-metric='redis-memory']");
        Assert.Contains(expectedClass, tile.ClassList);
        Assert.Equal(expectedClass["level-".Length..], tile.QuerySelector(".level-badge")!.TextContent);
    }

    [Fact]
    public void Tile_ShowsTheValueAgainstItsThresholdAndCapacity()
    {
        var panel = Render<SystemMetricsPanel>(p => p.Add(x => x.Metrics, Metrics(
            new SystemMetric("redis-memory", 450 * Megabyte, 400 * Megabyte, 512 * Megabyte, "bytes", "red"),
            new SystemMetric("pending", 1500, 1000, null, "tasks", "red"))));

        var redis = panel.Find("[data-metric='redis-memory']");
        Assert.Contains("Redis memory", redis.TextContent);
        Assert.Contains("450 MB", redis.TextContent);
        Assert.Contains("alert above 400 MB", redis.TextContent);
        Assert.Contains("of 512 MB", redis.TextContent);
        var pending = panel.Find("[data-metric='pending']");
        Assert.Contains("1,500", pending.TextContent);
        Assert.Contains("alert above 1,000", pending.TextContent);
    }

    [Fact]
    public void Tile_SaysNotMeasured_WhenTheApiHasNoValue()
    {
        var panel = Render<SystemMetricsPanel>(p => p.Add(x => x.Metrics, new SystemMetrics(
            [new SystemMetric("redis-memory", null, 400 * Megabyte, 512 * Megabyte, "bytes", "unknown")], RedisAvailable: false)));

        Assert.Contains("not measured", panel.Find("[data-metric='redis-memory']").TextContent);
        Assert.Contains("Redis is not answering", panel.Markup);
    }

    private static SystemMetrics Metrics(params SystemMetric[] metrics) => new(metrics, RedisAvailable: true);
}
