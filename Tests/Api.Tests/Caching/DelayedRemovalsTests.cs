using System.Threading.Channels;
using Api.Caching;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Api.Tests.Caching;

public sealed class DelayedRemovalsTests
{
    private static readonly TimeSpan s_delay = TimeSpan.FromSeconds(2);
    private readonly FakeTimeProvider _time = new();
    private readonly Channel<string> _removed = Channel.CreateUnbounded<string>();

    private DelayedRemovals NewRemovals() =>
        new(key => { _removed.Writer.TryWrite(key); return Task.CompletedTask; }, s_delay, _time, NullLogger.Instance);

    [Fact]
    public async Task RemovesAKeyOnceMore_AFullDelayAfterItWasScheduled()
    {
        var removals = NewRemovals();

        removals.Schedule("a");
        _time.Advance(s_delay - TimeSpan.FromMilliseconds(1));
        await AssertNoRemovalAsync();
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal("a", await NextRemovalAsync());
    }

    [Fact]
    public async Task ManySchedulesDuringOneDelay_GiveOneMoreRemoval_AFullDelayAfterTheLast()
    {
        var removals = NewRemovals();

        removals.Schedule("a");
        _time.Advance(TimeSpan.FromSeconds(1));
        for (var i = 0; i < 100; i++)
        {
            removals.Schedule("a");
        }
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("a", await NextRemovalAsync());
        // The hundred came a second into the first delay: one more removal covers them, two seconds after it.
        await AssertNoRemovalAsync();
        _time.Advance(s_delay);
        Assert.Equal("a", await NextRemovalAsync());
        _time.Advance(s_delay * 3);

        await AssertNoRemovalAsync();
    }

    [Fact]
    public async Task KeysHaveTheirOwnDelays_AndAKeyCanBeScheduledAgainAfterItsRemoval()
    {
        var removals = NewRemovals();

        removals.Schedule("a");
        removals.Schedule("b");
        _time.Advance(s_delay);
        Assert.Equal(["a", "b"], (await Task.WhenAll(NextRemovalAsync(), NextRemovalAsync())).Order());
        removals.Schedule("a");
        _time.Advance(s_delay);

        Assert.Equal("a", await NextRemovalAsync());
    }

    private async Task<string> NextRemovalAsync() =>
        await _removed.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

    private async Task AssertNoRemovalAsync()
    {
        // Timer callbacks and their continuations run on the thread pool: give them a moment to show up.
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.False(_removed.Reader.TryRead(out var key), $"unexpected removal of {key}");
    }
}
