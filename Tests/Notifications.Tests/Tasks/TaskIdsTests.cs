using Notifications.Tasks;

namespace Notifications.Tests.Tasks;

public sealed class TaskIdsTests
{
    [Fact]
    public void New_SortsInTheOrderItWasMade_EvenWithinOneMillisecond()
    {
        var before = DateTimeOffset.UtcNow.AddMilliseconds(-1);
        // Thousands in a tight loop: most share a millisecond with their neighbour.
        var ids = Enumerable.Range(0, 5_000).Select(_ => TaskIds.New()).ToList();
        var after = DateTimeOffset.UtcNow.AddMilliseconds(1);

        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(ids, id => Assert.Equal(26, id.Length));
        Assert.True(TaskIds.TryGetCreatedAt(ids[0], out var first) && first >= before && first <= after, $"{first} is the time it was made");
    }

    [Fact]
    public void New_StaysInOrder_WhenTheClockStepsBack()
    {
        var ids = new MonotonicUlids();
        var now = DateTimeOffset.UtcNow;
        var earlier = ids.Next(now).ToString();
        var afterTheStepBack = ids.Next(now.AddSeconds(-2)).ToString();

        Assert.True(string.CompareOrdinal(earlier, afterTheStepBack) < 0, $"{earlier} < {afterTheStepBack}");
    }
}
