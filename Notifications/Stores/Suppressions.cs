using Notifications.Tasks;

namespace Notifications.Stores;

/// <summary>
/// A recipient the worker must not send to: the provider reported a hard bounce, a complaint, an
/// unsubscribe or a blocked number, or the student replied STOP. <see cref="Address"/> is
/// <see cref="SuppressionAddress.Normalize"/>d, so it matches however the address was written.
/// </summary>
public sealed record Suppression(NotificationType Channel, string Address, string Reason, DateTimeOffset At)
{
    /// <summary>Who put it there: the provider whose report did, or the staff member.</summary>
    public string? Source { get; init; }
    /// <summary>The notification whose receipt caused it, when one did.</summary>
    public string? TaskId { get; init; }
}

/// <summary>One change to the suppression list: who added or lifted which address, when, and why.</summary>
public sealed record SuppressionAuditEntry(string Action, NotificationType Channel, string Address, string? Reason, string Actor, DateTimeOffset At)
{
    public const string Added = "added";
    public const string Lifted = "lifted";
}

public static class SuppressionAddress
{
    /// <summary>
    /// The form the list keys on: an email address trimmed and lower-cased (providers report it in any case), a
    /// phone number as '+' and its digits (BulkSMS reports "27831234567", the task holds "+27831234567").
    /// </summary>
    public static string Normalize(NotificationType channel, string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var trimmed = address.Trim();
        if (channel == NotificationType.Sms)
        {
            var digits = new string(trimmed.Where(char.IsAsciiDigit).ToArray());
            return digits.Length == 0 ? trimmed : "+" + digits;
        }
        return trimmed.ToLowerInvariant();
    }

    /// <summary>The channel an address belongs to when none is given: an email address has an '@'.</summary>
    public static NotificationType ChannelOf(string address) =>
        address.Contains('@', StringComparison.Ordinal) ? NotificationType.Email : NotificationType.Sms;
}

/// <summary>The suppression list, in the system of record. Every change is written with an audit entry in one transaction.</summary>
public interface ISuppressionList
{
    /// <summary>Puts the address on the list; audited with <see cref="Suppression.Source"/> as the actor.</summary>
    /// <returns>False when it was already there: the first reason stays, nothing is written.</returns>
    Task<bool> AddAsync(Suppression suppression, CancellationToken cancellationToken = default);

    /// <summary>The entry for this recipient, or null when it may be sent to.</summary>
    Task<Suppression?> FindAsync(NotificationType channel, string address, CancellationToken cancellationToken = default);

    /// <summary>Entries newest first; <paramref name="search"/> matches part of the address, case-insensitively.</summary>
    Task<Page<Suppression>> ListAsync(string? search, PageRequest page, CancellationToken cancellationToken = default);

    /// <summary>Takes the address off the list, audited with <paramref name="actor"/> and <paramref name="note"/>.</summary>
    /// <exception cref="NotFoundException">The address is not on the list; nothing is written.</exception>
    Task<Suppression> LiftAsync(NotificationType channel, string address, string actor, string? note, CancellationToken cancellationToken = default);

    /// <summary>The audit trail, newest first; for one address when <paramref name="address"/> is given.</summary>
    Task<Page<SuppressionAuditEntry>> ListAuditAsync(NotificationType? channel, string? address, PageRequest page, CancellationToken cancellationToken = default);
}
