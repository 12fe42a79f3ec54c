namespace Notifications.Tasks;

/// <summary>
/// The providers as the delivery log names them: the worker writes these with each send, and the Api's
/// webhooks match a provider's receipts by them.
/// </summary>
public static class ProviderNames
{
    public const string BulkSms = "bulksms";
    public const string Brevo = "brevo";
    public const string Smtp = "smtp";
    public const string Outbox = "outbox";
}
