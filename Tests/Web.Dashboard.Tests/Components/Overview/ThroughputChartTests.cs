using System.Globalization;
using Bunit;
using Web.Dashboard.Components.Overview;
using Web.Dashboard.Services;

namespace Web.Dashboard.Tests.Components.Overview;

public sealed class ThroughputChartTests : BunitContext
{
    [Fact]
    public void Chart_DrawsOneBarPerMinute_ScaledToThePeak()
    {
        var start = new DateTimeOffset(2026, 11, 26, 14, 0, 0, TimeSpan.Zero);
        var minutes = Enumerable.Range(0, 60).Select(i => new MinuteThroughput(start.AddMinutes(i), i == 30 ? 120 : 30)).ToList();

        var chart = Render<ThroughputChart>(p => p.Add(x => x.Minutes, minutes));

        var bars = chart.FindAll("rect");
        Assert.Equal(60, bars.Count);
        var heights = bars.Select(b => double.Parse(b.GetAttribute("height")!, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(heights.Max(), heights[30]);
        Assert.Equal(heights[30] / 4, heights[0], precision: 1);
        Assert.Contains("peak 120/min", chart.Markup);
    }

    [Fact]
    public void Chart_SaysSo_WhenNothingWasRecorded()
    {
        var chart = Render<ThroughputChart>(p => p.Add(x => x.Minutes, []));

        Assert.Empty(chart.FindAll("svg"));
        Assert.Contains("No throughput recorded yet", chart.Markup);
    }
}
