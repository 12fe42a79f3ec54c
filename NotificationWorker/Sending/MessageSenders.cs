using Microsoft.Extensions.Options;
using Notifications.Tasks;
using Notifications.Outbox;

namespace NotificationWorker.Sending;

/// <summary>
/// The sender for each channel, chosen once from configuration: SMS goes to BulkSMS when its
/// credentials are set, email to Brevo when an API key is set, else SMTP when a host is set;
/// anything unconfigured goes to the local outbox.
/// </summary>
public sealed partial class MessageSenders
{
    private readonly IMessageSender _sms;
    private readonly IMessageSender _email;

    public MessageSenders(IServiceProvider services, ILogger<MessageSenders> logger)
    {
        var sending = services.GetRequiredService<IOptions<SendingOptions>>().Value;
        var rateLimiter = services.GetRequiredService<IProviderRateLimiter>();
        var telemetry = services.GetRequiredService<SendingTelemetry>();
        var time = services.GetRequiredService<TimeProvider>();
        var circuits = services.GetService<Notifications.Monitoring.ProviderCircuits>();

        IMessageSender Guard(IMessageSender inner) =>
            new GuardedSender(inner, inner.Name == ProviderNames.Outbox ? null : rateLimiter, sending, telemetry, time, logger, circuits);

        IMessageSender Outbox(NotificationType channel) =>
            new OutboxSender(channel, services.GetRequiredService<IOptions<OutboxOptions>>(), time, services.GetService<OutboxReceipts>());

        _sms = Guard(services.GetRequiredService<IOptions<BulkSmsOptions>>().Value.IsConfigured
            ? services.GetRequiredService<BulkSmsSender>()
            : Outbox(NotificationType.Sms));

        _email = Guard(services.GetRequiredService<IOptions<BrevoOptions>>().Value.IsConfigured
            ? services.GetRequiredService<BrevoEmailSender>()
            : services.GetRequiredService<IOptions<SmtpOptions>>().Value.IsConfigured
                ? services.GetRequiredService<SmtpEmailSender>()
                : Outbox(NotificationType.Email));

        LogChoice(logger, "sms", _sms.Name);
        LogChoice(logger, "email", _email.Name);
    }

    public IMessageSender Sms => _sms;

    public IMessageSender Email => _email;

    public IMessageSender ForChannel(NotificationType channel) => channel switch
    {
        NotificationType.Sms => _sms,
        NotificationType.Email => _email,
        _ => throw new ArgumentOutOfRangeException(nameof(channel), channel, "unknown channel"),
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Notifications on {Channel} go through {Provider}")]
    private static partial void LogChoice(ILogger logger, string channel, string provider);
}
