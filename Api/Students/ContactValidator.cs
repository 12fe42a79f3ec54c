using System.Net.Mail;
using Microsoft.Extensions.Options;
using Notifications.Stores;
using PhoneNumbers;

namespace Api.Students;

/// <summary>Normalises phone numbers to E.164 (libphonenumber) and checks email addresses.</summary>
public sealed class ContactValidator(IOptions<ValidationOptions> options)
{
    private static readonly PhoneNumberUtil s_phones = PhoneNumberUtil.GetInstance();
    private readonly string _region = options.Value.DefaultRegion;

    public static bool IsKnownRegion(string region) => s_phones.GetSupportedRegions().Contains(region);

    /// <returns>The E.164 number, or null with the reason.</returns>
    public string? NormalizePhone(string? raw, out string? reason)
    {
        reason = null;
        if (string.IsNullOrWhiteSpace(raw))
        {
            reason = "is required.";
            return null;
        }
        try
        {
            var number = s_phones.Parse(raw.Trim(), _region);
            if (!s_phones.IsValidNumber(number))
            {
                reason = "is not a valid phone number.";
                return null;
            }
            return s_phones.Format(number, PhoneNumberFormat.E164);
        }
        catch (NumberParseException)
        {
            reason = "is not a phone number.";
            return null;
        }
    }

    /// <returns>The trimmed address, or null with the reason.</returns>
    public static string? NormalizeEmail(string? raw, out string? reason)
    {
        reason = null;
        var email = raw?.Trim();
        if (string.IsNullOrEmpty(email))
        {
            reason = "is required.";
            return null;
        }
        if (email.Length > FieldLimits.Email)
        {
            reason = $"is longer than {FieldLimits.Email} characters.";
            return null;
        }
        // MailAddress accepts display names and comments; only a bare address that reads back unchanged passes. It also
        // takes quoted local parts ("a b"@x, "a@b"@x), which the store refuses: one such row would fail the whole upload.
        if (!MailAddress.TryCreate(email, out var address) || address.Address != email || address.Host.IndexOf('.', StringComparison.Ordinal) < 1
            || address.Host.EndsWith('.') || email.Contains(' ', StringComparison.Ordinal)
            || email.IndexOf('@', StringComparison.Ordinal) != email.LastIndexOf('@'))
        {
            reason = "is not an email address.";
            return null;
        }
        return email;
    }
}
