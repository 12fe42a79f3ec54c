using Notifications.Stores;
using Notifications.Tasks;

namespace Notifications.Receipts;

/// <summary>One thing a provider said about our messages: read from its webhook, or made by the development outbox.</summary>
public abstract record ProviderReport;

/// <summary>A status of a message we sent.</summary>
/// <param name="SuppressBecause">Set when the status means "never send to this recipient again" (a hard bounce, FAILED.BLOCKED).</param>
/// <param name="SurelyOurs">
/// The payload carries the id we gave the message (BulkSMS's userSuppliedId, Brevo's X-Mailin-custom), so an
/// unknown message is one whose send the worker has not logged yet: the provider is asked to send it again later.
/// </param>
public sealed record ReceiptReport(ProviderReceipt Receipt, string? SuppressBecause, bool SurelyOurs) : ProviderReport;

/// <summary>The recipient asked for no more (an SMS reply "STOP"): put them on the suppression list.</summary>
public sealed record OptOutReport(NotificationType Channel, string Address, string Reason, string Provider) : ProviderReport;

/// <summary>Read and understood, but nothing to store (an open, a click, an ordinary SMS reply).</summary>
public sealed record IgnoredReport(string What) : ProviderReport;

