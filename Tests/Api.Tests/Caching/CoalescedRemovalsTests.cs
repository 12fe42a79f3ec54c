using Api.Caching;

namespace Api.Tests.Caching;

public sealed class CoalescedRemovalsTests
{
    /// <summary>A removal that finishes when the test says so, recording each call.</summary>
    private sealed class GatedRemoval
    {
        private readonly List<TaskCompletionSource> _gates = [];

        public int Calls { get { lock (_gates) { return _gates.Count; } } }

        public Task RemoveAsync(string key)
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gates)
            {
                _gates.Add(gate);
            }
            return gate.Task;
        }

        public void Finish(int call, Exception? failure = null)
        {
            TaskCompletionSource gate;
            lock (_gates)
            {
                gate = _gates[call];
            }
            if (failure is null)
            {
                gate.SetResult();
            }
            else
            {
                gate.SetException(failure);
            }
        }
    }

    [Fact]
    public async Task OneCaller_GetsOneRemoval()
    {
        var removal = new GatedRemoval();
        var removals = new CoalescedRemovals(removal.RemoveAsync);

        var done = removals.RemoveAsync("k");
        Assert.Equal(1, removal.Calls);
        Assert.False(done.IsCompleted);
        removal.Finish(0);
        await done.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task CallersDuringARemoval_ShareTheNextOne_AndFinishOnlyAfterIt()
    {
        var removal = new GatedRemoval();
        var removals = new CoalescedRemovals(removal.RemoveAsync);

        var first = removals.RemoveAsync("k");
        var later = Enumerable.Range(0, 10).Select(_ => removals.RemoveAsync("k")).ToArray();
        Assert.Equal(1, removal.Calls);

        removal.Finish(0);
        await first.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        // The running removal may have started before these callers wrote: they wait for the next one.
        await WaitUntilAsync(() => removal.Calls == 2);
        Assert.All(later, task => Assert.False(task.IsCompleted));

        removal.Finish(1);
        await Task.WhenAll(later).WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal(2, removal.Calls);
    }

    [Fact]
    public async Task KeysAreRemovedIndependently()
    {
        var removal = new GatedRemoval();
        var removals = new CoalescedRemovals(removal.RemoveAsync);

        var a = removals.RemoveAsync("a");
        var b = removals.RemoveAsync("b");
        Assert.Equal(2, removal.Calls);
        removal.Finish(1);
        await b.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.False(a.IsCompleted);
        removal.Finish(0);
        await a.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task AFailedRemoval_FailsItsCallers_AndTheNextCallerTriesAgain()
    {
        var removal = new GatedRemoval();
        var removals = new CoalescedRemovals(removal.RemoveAsync);

        var failing = removals.RemoveAsync("k");
        removal.Finish(0, new InvalidOperationException("redis went away"));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => failing.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));
        Assert.Equal("redis went away", error.Message);

        var retry = removals.RemoveAsync("k");
        Assert.Equal(2, removal.Calls);
        removal.Finish(1);
        await retry.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }
}
