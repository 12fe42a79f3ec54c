using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;
using Notifications.Tasks;

namespace NotificationWorker.Sending;

/// <summary>Email over SMTP with MailKit: one connection per send, HTML and text as multipart/alternative.</summary>
public sealed partial class SmtpEmailSender(
    IOptions<SmtpOptions> options,
    IOptions<SendingOptions> sendingOptions,
    ILogger<SmtpEmailSender> logger) : IMessageSender
{
    public string Name => ProviderNames.Smtp;

    public NotificationType Channel => NotificationType.Email;

    public async Task<SendResult> SendAsync(OutgoingMessage message, CancellationToken ct)
    {
        var settings = options.Value;
        MimeMessage mime;
        try
        {
            mime = BuildMessage(message, settings);
        }
        catch (ParseException e)
        {
            return new SendResult.PermanentFailure(Name, $"invalid address '{message.Recipient}': {e.Message}");
        }

        try
        {
            using var client = new SmtpClient { Timeout = (int)settings.Timeout.TotalMilliseconds };
            await client.ConnectAsync(settings.Host ?? throw new InvalidOperationException("SMTP host is not configured."), settings.Port, settings.Security, ct);
            if (!string.IsNullOrEmpty(settings.UserName))
            {
                await client.AuthenticateAsync(settings.UserName, settings.Password ?? "", ct);
            }

            await client.SendAsync(mime, ct);
            await client.DisconnectAsync(quit: true, ct);
            return new SendResult.Sent(Name, mime.MessageId);
        }
        catch (SmtpCommandException e)
        {
            return Classify(e);
        }
        catch (AuthenticationException e)
        {
            return AccountFault($"SMTP authentication failed: {e.Message}");
        }
        catch (Exception e) when (e is SmtpProtocolException or SslHandshakeException or ServiceNotConnectedException
            or SocketException or IOException or TimeoutException
            || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return new SendResult.TransientFailure(Name, $"SMTP connection failed: {e.Message}", null);
        }
    }

    internal static MimeMessage BuildMessage(OutgoingMessage message, SmtpOptions settings)
    {
        var mime = new MimeMessage();
        mime.From.Add(new MailboxAddress(settings.FromName ?? "", settings.FromAddress ?? throw new InvalidOperationException("SMTP From address is not configured.")));
        mime.To.Add(MailboxAddress.Parse(message.Recipient));
        mime.Subject = message.Subject ?? "";
        // Derived from the task, not random: a retry after a lost answer carries the same Message-ID, which
        // receiving servers and mail clients use to drop the duplicate.
        mime.MessageId = MessageIdFor(message.TaskId, settings.FromAddress);
        mime.Headers.Add("X-Notification-Task-Id", message.TaskId);
        // With both bodies set, BodyBuilder makes multipart/alternative (text first, HTML preferred).
        mime.Body = new BodyBuilder { TextBody = message.TextBody, HtmlBody = message.HtmlBody }.ToMessageBody();
        return mime;
    }

    internal static string MessageIdFor(string taskId, string? fromAddress)
    {
        // RFC 5322 dot-atom: keep the characters a message id may hold; ULIDs already are.
        var local = new string([.. taskId.Where(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')]).Trim('.');
        return $"{(local.Length == 0 ? "task" : local)}.notification@{DomainOf(fromAddress)}";
    }

    private SendResult Classify(SmtpCommandException e)
    {
        var code = (int)e.StatusCode;
        var error = $"SMTP {code} {e.ErrorCode}: {e.Message}";
        if (code is >= 400 and < 500)
        {
            return new SendResult.TransientFailure(Name, error, null);
        }

        return e.ErrorCode switch
        {
            // 550/551/553 on RCPT TO: the mailbox does not exist or the address is invalid.
            SmtpErrorCode.RecipientNotAccepted => new SendResult.PermanentFailure(Name, error),
            // 552/554 after DATA: this message (size, content) is refused, and would be again.
            SmtpErrorCode.MessageNotAccepted => new SendResult.PermanentFailure(Name, error),
            // MAIL FROM refused or an unexpected 5xx (e.g. 530 authentication required): our setup, every message alike.
            _ => AccountFault(error),
        };
    }

    private SendResult.TransientFailure AccountFault(string error)
    {
        LogAccountFault(logger, error);
        return new SendResult.TransientFailure(Name, error, sendingOptions.Value.ConfigurationFaultRetryAfter);
    }

    private static string DomainOf(string? address)
    {
        var at = address?.LastIndexOf('@') ?? -1;
        return at >= 0 ? address![(at + 1)..] : "localhost";
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The SMTP server rejected our setup, not the message; fix the configuration: {Error}")]
    private static partial void LogAccountFault(ILogger logger, string error);
}
