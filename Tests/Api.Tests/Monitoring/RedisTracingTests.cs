using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Api.Tests.Infrastructure;

namespace Api.Tests.Monitoring;

/// <summary>
/// The Api's Redis commands become spans through the OpenTelemetry instrumentation package
/// (<c>AddRedisConnection</c> in ServiceDefaults), which replaced Aspire's built-in copy of it.
/// </summary>
public sealed class RedisTracingTests
{
    private const string InstrumentationSource = "OpenTelemetry.Instrumentation.StackExchangeRedis";

    [Fact]
    public async Task TheRelaysRedisCommands_BecomeSpans()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == InstrumentationSource,
            Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var host = await ApiTestHost.StartAsync();
        var port = host.Redis.Port.ToString(CultureInfo.InvariantCulture);

        using var upload = await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(2)), TestContext.Current.CancellationToken);
        upload.EnsureSuccessStatusCode();
        await host.WaitForOutboxMovedAsync();

        // Other tests' hosts run in this process too: only spans to this test's redis-server count.
        bool Ours(Activity span) => span.TagObjects.Any(t => t.Key.EndsWith(".port", StringComparison.Ordinal) && Convert.ToString(t.Value, CultureInfo.InvariantCulture) == port);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!spans.Any(s => Ours(s) && s.DisplayName.StartsWith("EVAL", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        Assert.Contains(spans, s => Ours(s) && s.DisplayName.StartsWith("EVAL", StringComparison.Ordinal));
    }
}
