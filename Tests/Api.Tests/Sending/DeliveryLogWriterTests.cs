using Api.Sending;
using Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Notifications.Queue;
using Notifications.Stores;

namespace Api.Tests.Sending;

public sealed class DeliveryLogWriterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EventsTakenBeforeAStop_AreInTheLog_EvenWhenTheStopComesRightAfterTheStart()
    {
        await using var host = await ApiTestHost.StartAsync();
        var writer = ActivatorUtilities.CreateInstance<DeliveryLogWriter>(host.Services);
        var requests = Enumerable.Range(0, 3).Select(i => NotificationRequest.Sms($"+9198765432{i:D2}", "hello")).ToList();
        var results = Enumerable.Range(0, 3).Select(i => new EnqueueResult($"task-writer-{i}", Duplicate: i == 2)).ToList();

        writer.Queued(requests, results);
        await writer.StartAsync(Ct);
        await writer.StopAsync(CancellationToken.None);

        var log = host.Service<IDeliveryLog>();
        Assert.Equal(DeliveryStatus.Queued, (await log.GetAsync("task-writer-0", Ct)).Status);
        Assert.Equal("+919876543201", (await log.GetAsync("task-writer-1", Ct)).Recipient);
        // A duplicate enqueue added no task, so it logs nothing.
        await Assert.ThrowsAsync<NotFoundException>(() => log.GetAsync("task-writer-2", Ct));
    }

    [Fact]
    public async Task EventsAfterAStop_AreDropped_AndFlushDoesNotWaitForThem()
    {
        await using var host = await ApiTestHost.StartAsync();
        var writer = ActivatorUtilities.CreateInstance<DeliveryLogWriter>(host.Services);
        await writer.StartAsync(Ct);
        await writer.StopAsync(CancellationToken.None);

        writer.Queued([NotificationRequest.Sms("+919876543210", "late")], [new EnqueueResult("task-after-stop", Duplicate: false)]);

        await writer.FlushAsync(Ct).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        await Assert.ThrowsAsync<NotFoundException>(() => host.Service<IDeliveryLog>().GetAsync("task-after-stop", Ct));
    }
}
