using System.Net;
using System.Text.Json;
using Api.Tests.Infrastructure;
using Microsoft.Extensions.Options;
using Notifications.Outbox;
using Notifications.Tasks;

namespace Api.Tests.Outbox;

public sealed class OutboxApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task List_ReturnsNewestFirst_AndGetReturnsOne_OrNotFound()
    {
        await using var host = await ApiTestHost.StartAsync();
        var directory = host.Service<IOptions<OutboxOptions>>().Value.Directory!;
        Directory.CreateDirectory(directory);
        var older = OutboxFiles.NewId(DateTimeOffset.UtcNow.AddMinutes(-1), NotificationType.Sms, "t1");
        var newer = OutboxFiles.NewId(DateTimeOffset.UtcNow, NotificationType.Email, "t2");
        foreach (var (id, channel) in new[] { (older, NotificationType.Sms), (newer, NotificationType.Email) })
        {
            var message = new OutboxMessage(id, DateTimeOffset.UtcNow, "t", channel, "+919876543210", null, "Welcome", null);
            await File.WriteAllTextAsync(Path.Combine(directory, id + OutboxFiles.Extension), JsonSerializer.Serialize(message, OutboxFiles.Json), Ct);
        }

        var page = await ApiTestHost.ReadAsync<OutboxPage>(await host.Staff().GetAsync("/api/outbox?limit=10", Ct));
        Assert.Equal([newer, older], page.Items.Select(m => m.Id));
        var one = await ApiTestHost.ReadAsync<OutboxMessage>(await host.Staff().GetAsync($"/api/outbox/{older}", Ct));
        Assert.Equal("Welcome", one.TextBody);
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/outbox/unknown", Ct), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/outbox?offset=-1", Ct), HttpStatusCode.BadRequest);
    }
}
