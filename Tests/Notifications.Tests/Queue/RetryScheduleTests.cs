using Notifications.Queue;

namespace Notifications.Tests.Queue;

public sealed class RetryScheduleTests
{
    private static QueueOptions Options(double jitter = 0) => new()
    {
        RetryBaseDelay = TimeSpan.FromSeconds(15),
        RetryMaxDelay = TimeSpan.FromMinutes(10),
        RetryJitter = jitter,
    };

    [Theory]
    [InlineData(1, 15)]
    [InlineData(2, 30)]
    [InlineData(3, 60)]
    [InlineData(5, 240)]
    [InlineData(7, 600)]
    [InlineData(40, 600)]
    public void DelayAfter_DoublesFromBase_UpToTheCap(int failures, int expectedSeconds)
    {
        var schedule = new RetrySchedule(Options());

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), schedule.DelayAfter(failures));
    }

    [Fact]
    public void DelayAfter_WithJitter_StaysBetweenHalfAndFullDelay()
    {
        var schedule = new RetrySchedule(Options(jitter: 0.5), new Random(7));

        var delays = Enumerable.Range(0, 1_000).Select(_ => schedule.DelayAfter(3)).ToArray();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60)));
        Assert.True(delays.Distinct().Count() > 100, "jitter spreads the delays");
    }

    [Fact]
    public void DelayAfter_HonoursRetryAfter()
    {
        var schedule = new RetrySchedule(Options());

        Assert.Equal(TimeSpan.FromSeconds(3), schedule.DelayAfter(5, TimeSpan.FromSeconds(3)));
    }

    [Theory]
    [InlineData(1, 3, false)]
    [InlineData(3, 3, false)]
    [InlineData(4, 3, true)]
    [InlineData(1, 0, true)]
    public void IsExhausted_AfterMaxRetriesPlusOneAttempts(int failures, int maxRetries, bool exhausted) =>
        Assert.Equal(exhausted, RetrySchedule.IsExhausted(failures, maxRetries));
}
