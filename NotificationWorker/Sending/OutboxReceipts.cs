using System.ComponentModel.DataAnnotations;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Notifications.Receipts;
using Notifications.Stores;
using Notifications.Tasks;

namespace NotificationWorker.Sending;

/// <summary>The <c>Sending:Outbox:Receipts</c> section: how the development outbox reports what became of its messages.</summary>
public sealed class OutboxReceiptOptions
{
    public const string SectionName = "Sending:Outbox:Receipts";

    public bool Enabled { get; set; } = true;

    /// <summary>How long after the send the receipt comes, as a provider's does.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Recipients the development provider refuses as a real one would: an SMS to one is reported
    /// FAILED.BLOCKED and an email hard-bounces, each of which puts the recipient on the suppression list.
    /// </summary>
    public List<string> Undeliverable { get; set; } = [];
}

/// <summary>
/// The local outbox's delivery receipts, so the whole story (sent, delivered or refused, suppressed) shows with
/// <c>dotnet run</c> and no provider account. Each kept message is reported <see cref="OutboxReceiptOptions.Delay"/>
/// later through the same <see cref="ReceiptIntake"/> the Api's webhooks use; a receipt that arrives before the
/// worker has logged its send is tried again later, as BulkSMS retries a webhook.
/// </summary>
public sealed partial class OutboxReceipts(ReceiptIntake intake, IOptions<OutboxReceiptOptions> options, TimeProvider time, ILogger<OutboxReceipts> logger)
    : BackgroundService
{
    private const int MaxAttempts = 6;

    private readonly record struct Pending(string TaskId, string MessageId, NotificationType Channel, string Recipient, DateTimeOffset Due, int Attempt);

    // Development only: when thousands are waiting, the oldest receipts are dropped rather than memory grown.
    private readonly Channel<Pending> _pending = Channel.CreateBounded<Pending>(new BoundedChannelOptions(10_000)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleReader = true,
    });

    /// <summary>Schedules the receipt of a message the outbox has just kept.</summary>
    public void Emit(OutgoingMessage message, string messageId)
    {
        if (options.Value.Enabled)
        {
            _pending.Writer.TryWrite(new Pending(message.TaskId, messageId, message.Channel, message.Recipient, time.GetUtcNow() + options.Value.Delay, 0));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var pending in _pending.Reader.ReadAllAsync(stoppingToken))
        {
            var wait = pending.Due - time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, stoppingToken);
            }
            var again = false;
            try
            {
                again = (await intake.ApplyAsync([Report(pending)], stoppingToken)).NotYetKnown > 0;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogReceiptFailed(logger, pending.TaskId, ex);
                again = true;
            }
            if (again && pending.Attempt + 1 < MaxAttempts)
            {
                var backoff = TimeSpan.FromSeconds(Math.Max(1, options.Value.Delay.TotalSeconds) * (1 << pending.Attempt));
                _pending.Writer.TryWrite(pending with { Due = time.GetUtcNow() + backoff, Attempt = pending.Attempt + 1 });
            }
        }
    }

    private ProviderReport Report(Pending pending)
    {
        var undeliverable = options.Value.Undeliverable.Any(address =>
            SuppressionAddress.Normalize(pending.Channel, address) == SuppressionAddress.Normalize(pending.Channel, pending.Recipient));
        var (status, reason, suppress) = (pending.Channel, undeliverable) switch
        {
            (_, false) => (DeliveryStatus.Delivered, (string?)null, (string?)null),
            (NotificationType.Sms, true) => (DeliveryStatus.Undelivered, "FAILED.BLOCKED", "the development outbox reported FAILED.BLOCKED"),
            _ => (DeliveryStatus.Bounced, "hard_bounce: the development outbox refuses this address", "the development outbox reported hard_bounce"),
        };
        var receipt = new ProviderReceipt(ProviderNames.Outbox, $"{pending.MessageId}:{status}", status, time.GetUtcNow())
        {
            TaskId = pending.TaskId,
            ProviderMessageId = pending.MessageId,
            // No part count: the one made when the SMS was queued stands (a real provider's count would replace it).
            Reason = reason,
        };
        return new ReceiptReport(receipt, suppress, SurelyOurs: true);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The outbox's receipt for task {TaskId} could not be stored; trying again later")]
    private static partial void LogReceiptFailed(ILogger logger, string taskId, Exception exception);
}
