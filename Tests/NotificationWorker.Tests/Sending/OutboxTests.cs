using NotificationWorker.Sending;
using Notifications.Templates;
using NotificationWorker.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Notifications.Tasks;
using Notifications.Outbox;

namespace NotificationWorker.Tests.Sending;

public sealed class OutboxTests : IAsyncLifetime
{
    private SenderHost _host = null!;

    public ValueTask InitializeAsync()
    {
        _host = SenderHost.Create(new Dictionary<string, string?>());
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    [Fact]
    public async Task Senders_UseTheOutbox_WhenNoProviderIsConfigured()
    {
        Assert.Equal(ProviderNames.Outbox, _host.Senders.Sms.Name);
        Assert.Equal(ProviderNames.Outbox, _host.Senders.Email.Name);
        Assert.Equal(NotificationType.Sms, _host.Senders.ForChannel(NotificationType.Sms).Channel);
        Assert.Equal(NotificationType.Email, _host.Senders.ForChannel(NotificationType.Email).Channel);

        var result = await _host.Senders.Email.SendAsync(Messages.Email(), TestContext.Current.CancellationToken);

        var sent = Assert.IsType<SendResult.Sent>(result);
        var file = Path.Combine(_host.ContentRoot, ".data", "outbox", sent.ProviderMessageId + ".json");
        Assert.True(File.Exists(file), file);
    }

    [Fact]
    public async Task Reader_ListsMessagesNewestFirst_InPages_AsTheStudentWouldSeeThem()
    {
        var ct = TestContext.Current.CancellationToken;
        for (var i = 1; i <= 5; i++)
        {
            await _host.Senders.Sms.SendAsync(Messages.Sms(taskId: $"task-{i}"), ct);
            _host.Time.Advance(TimeSpan.FromSeconds(1));
        }

        await _host.Senders.Email.SendAsync(Messages.Email(taskId: "task-6"), ct);
        var reader = _host.Services.GetRequiredService<OutboxReader>();

        var first = await reader.ListAsync(skip: 0, take: 4, ct);
        var second = await reader.ListAsync(skip: 4, take: 4, ct);

        Assert.Equal(6, first.Total);
        Assert.Equal(["task-6", "task-5", "task-4", "task-3"], first.Items.Select(m => m.TaskId));
        Assert.Equal(["task-2", "task-1"], second.Items.Select(m => m.TaskId));
        var email = first.Items[0];
        Assert.Equal(NotificationType.Email, email.Channel);
        Assert.Equal("thandi@example.org", email.Recipient);
        Assert.Equal("Welcome to AI-VERSANT", email.Subject);
        Assert.Equal("<p>Hi Thandi,</p><p>welcome.</p>", email.HtmlBody);
        Assert.Equal(SenderHost.Start.AddSeconds(5), email.CreatedAt);
        Assert.Equal(email, await reader.FindAsync(email.Id, ct));
    }

    [Fact]
    public async Task Outbox_KeepsTheRenderedTemplate_ForAPersonToRead()
    {
        var ct = TestContext.Current.CancellationToken;
        var templates = _host.Services.GetRequiredService<NotificationTemplates>();
        var rendered = templates.Render(TemplateNames.Welcome, NotificationType.Email, new NotificationModel { StudentName = "Thandi", LoginUrl = "https://versant.example/login" });

        var sent = await _host.Senders.Email.SendAsync(rendered.ToMessage("task-welcome", NotificationType.Email, "thandi@example.org"), ct);

        var kept = await _host.Services.GetRequiredService<OutboxReader>().FindAsync(Assert.IsType<SendResult.Sent>(sent).ProviderMessageId!, ct);
        Assert.NotNull(kept);
        Assert.Equal(rendered.Subject, kept.Subject);
        Assert.Equal(rendered.TextBody, kept.TextBody);
        Assert.Equal(rendered.HtmlBody, kept.HtmlBody);
    }

    [Fact]
    public async Task Reader_FindsNothing_ForIdsThatAreNotOutboxFiles()
    {
        var reader = _host.Services.GetRequiredService<OutboxReader>();

        Assert.Null(await reader.FindAsync("../../etc/passwd", TestContext.Current.CancellationToken));
        Assert.Null(await reader.FindAsync("20261126T090000Z-sms-missing", TestContext.Current.CancellationToken));
        Assert.Equal(0, (await reader.ListAsync(0, 10, TestContext.Current.CancellationToken)).Total);
    }
}
