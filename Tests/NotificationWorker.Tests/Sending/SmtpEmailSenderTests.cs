using Notifications.Tasks;
using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using MimeKit;
using NotificationWorker.Sending;
using NotificationWorker.Tests.Support;
using SmtpServer;
using SmtpServer.Mail;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace NotificationWorker.Tests.Sending;

/// <summary>MailKit against a real SMTP server (SmtpServer) listening on loopback in this process.</summary>
public sealed class SmtpEmailSenderTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<MimeMessage> _received = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly int _port = FreePort();
    private Task _server = Task.CompletedTask;
    private SenderHost _host = null!;

    public ValueTask InitializeAsync()
    {
        var options = new SmtpServerOptionsBuilder()
            .ServerName("localhost")
            .Endpoint(endpoint => endpoint.Endpoint(new IPEndPoint(IPAddress.Loopback, _port)))
            .Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(new Store(_received));
        services.Add(new Recipients());
        _server = new SmtpServer.SmtpServer(options, services).StartAsync(_stop.Token);

        _host = SenderHost.Create(new Dictionary<string, string?>
        {
            ["Sending:Smtp:Host"] = "127.0.0.1",
            ["Sending:Smtp:Port"] = _port.ToString(),
            ["Sending:Smtp:Security"] = "None",
            ["Sending:Smtp:FromAddress"] = "noreply@versant.example",
            ["Sending:Smtp:FromName"] = "AI-VERSANT",
        });
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        await _stop.CancelAsync();
        try
        {
            await _server;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    [Fact]
    public async Task Send_DeliversOneMessage_WithTextAndHtmlAsAlternatives()
    {
        Assert.Equal(ProviderNames.Smtp, _host.Senders.Email.Name);

        var result = await _host.Senders.Email.SendAsync(Messages.Email(taskId: "task-42"), TestContext.Current.CancellationToken);

        var sent = Assert.IsType<SendResult.Sent>(result);
        var message = Assert.Single(_received);
        Assert.Equal(sent.ProviderMessageId, message.MessageId);
        // Derived from the task: a retry after a lost answer carries the same Message-ID.
        Assert.Equal("task-42.notification@versant.example", message.MessageId);
        Assert.Equal("Welcome to AI-VERSANT", message.Subject);
        Assert.Equal("noreply@versant.example", message.From.Mailboxes.Single().Address);
        Assert.Equal("thandi@example.org", message.To.Mailboxes.Single().Address);
        Assert.Equal("task-42", message.Headers["X-Notification-Task-Id"]);
        var alternative = Assert.IsType<MultipartAlternative>(message.Body);
        Assert.Equal("Hi Thandi,\nwelcome.\n", alternative.TextBody!.ReplaceLineEndings("\n"));
        Assert.Equal("<p>Hi Thandi,</p><p>welcome.</p>", alternative.HtmlBody!.Trim());
    }

    [Fact]
    public async Task Send_IsPermanent_WhenTheServerAnswers550ForTheRecipient()
    {
        var result = await _host.Senders.Email.SendAsync(Messages.Email(to: "nobody@versant.example"), TestContext.Current.CancellationToken);

        var permanent = Assert.IsType<SendResult.PermanentFailure>(result);
        Assert.StartsWith("SMTP 550", permanent.Error);
        Assert.Empty(_received);
    }

    [Fact]
    public async Task Send_IsTransient_WhenTheServerAnswers4xx()
    {
        var result = await _host.Senders.Email.SendAsync(Messages.Email(to: "greylisted@versant.example"), TestContext.Current.CancellationToken);

        Assert.StartsWith("SMTP 451", Assert.IsType<SendResult.TransientFailure>(result).Error);
    }

    [Fact]
    public async Task Send_IsTransient_WhenTheServerIsDown()
    {
        await _stop.CancelAsync();
        try
        {
            await _server;
        }
        catch (OperationCanceledException)
        {
        }

        var result = await _host.Senders.Email.SendAsync(Messages.Email(), TestContext.Current.CancellationToken);

        Assert.StartsWith("SMTP connection failed", Assert.IsType<SendResult.TransientFailure>(result).Error);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Store(ConcurrentQueue<MimeMessage> received) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            using var stream = new MemoryStream(buffer.ToArray());
            received.Enqueue(await MimeMessage.LoadAsync(stream, cancellationToken));
            return SmtpResponse.Ok;
        }
    }

    /// <summary>nobody@ does not exist (550); greylisted@ is asked to come back later (451).</summary>
    private sealed class Recipients : IMailboxFilter
    {
        public Task<bool> CanAcceptFromAsync(ISessionContext context, IMailbox from, int size, CancellationToken cancellationToken) =>
            Task.FromResult(true);

        public Task<bool> CanDeliverToAsync(ISessionContext context, IMailbox to, IMailbox from, CancellationToken cancellationToken) => to.User switch
        {
            "nobody" => Task.FromResult(false),
            "greylisted" => throw new SmtpResponseException(new SmtpResponse((SmtpReplyCode)451, "greylisted, try again later")),
            _ => Task.FromResult(true),
        };
    }
}
