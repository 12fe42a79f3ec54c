using Notifications.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NotificationWorker.Sending;
using NotificationWorker.Tests.Support;

namespace NotificationWorker.Tests.Sending;

public sealed class MessageSendersTests
{
    [Fact]
    public async Task Sms_GoesToBulkSms_WhenTheOldPlansEnvironmentVariablesAreSet()
    {
        await using var host = SenderHost.Create(new Dictionary<string, string?>
        {
            ["BULKSMS_USERNAME"] = "user",
            ["BULKSMS_PASSWORD"] = "pass",
        });

        Assert.Equal(ProviderNames.BulkSms, host.Senders.Sms.Name);
        Assert.Equal(ProviderNames.Outbox, host.Senders.Email.Name);
    }

    [Fact]
    public async Task Email_GoesToSmtp_WhenOnlyAnSmtpHostIsConfigured()
    {
        await using var host = SenderHost.Create(new Dictionary<string, string?>
        {
            ["Sending:Smtp:Host"] = "mail.versant.example",
            ["Sending:Smtp:FromAddress"] = "noreply@versant.example",
        });

        Assert.Equal(ProviderNames.Smtp, host.Senders.Email.Name);
        Assert.Equal(ProviderNames.Outbox, host.Senders.Sms.Name);
    }

    [Fact]
    public async Task Settings_InTheSendingSection_WinOverTheEnvironmentVariables()
    {
        await using var host = SenderHost.Create(new Dictionary<string, string?>
        {
            ["Sending:BulkSms:Username"] = "from-config",
            ["Sending:BulkSms:Password"] = "pass",
            ["BULKSMS_USERNAME"] = "from-env",
        });

        Assert.Equal("from-config", host.Services.GetRequiredService<IOptions<BulkSmsOptions>>().Value.Username);
    }

    [Fact]
    public async Task Start_Fails_WhenBrevoHasAKeyButNoSender()
    {
        await using var host = SenderHost.Create(new Dictionary<string, string?> { ["BREVO_API_KEY"] = "xkeysib-1" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(host.StartAsync);

        Assert.Contains("sender", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Start_Fails_WhenARateLimitIsNegative()
    {
        await using var host = SenderHost.Create(new Dictionary<string, string?> { ["Sending:RateLimits:BulkSms:PerSecond"] = "-1" });

        await Assert.ThrowsAsync<OptionsValidationException>(host.StartAsync);
    }
}
