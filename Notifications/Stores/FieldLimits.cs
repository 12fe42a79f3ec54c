using System.Text.RegularExpressions;

namespace Notifications.Stores;

/// <summary>
/// The longest value each stored field accepts. Both stores enforce the same limits before writing, so
/// an oversized field fails the same way on SQLite and MongoDB and never half-writes a bulk call.
/// </summary>
public static class FieldLimits
{
    public const int Id = 64;
    public const int RollNumber = 64;
    public const int Name = 200;
    /// <summary>RFC 5321's limit on a forward path.</summary>
    public const int Email = 254;
    /// <summary>E.164: a plus sign and at most 15 digits.</summary>
    public const int Phone = 16;
    /// <summary>A delivery's recipient is a phone number or an email address.</summary>
    public const int Recipient = Email;
    public const int FormTitle = 200;
    public const int FormFieldName = 100;
    public const int FormFieldCount = 200;
    public const int AnswerKey = 100;
    public const int AnswerValue = 4000;
    public const int AnswerCount = 200;
    public const int Status = 32;
    public const int BatchName = 200;
    public const int TaskId = 128;
    public const int Provider = 64;
    public const int ProviderMessageId = 200;
    /// <summary>Provider errors are cut to this length rather than refused: losing the event would be worse.</summary>
    public const int LastError = 2000;
    /// <summary>A receipt's id: the provider's message id and its status.</summary>
    public const int ReceiptId = 300;
    /// <summary>Why an address is suppressed, and a note on lifting it.</summary>
    public const int SuppressionReason = 500;
    /// <summary>Who changed the suppression list (a staff subject or a provider).</summary>
    public const int Actor = 200;
    /// <summary>A suppression search term.</summary>
    public const int Search = 254;
    /// <summary>Ids in one batch or one lookup call.</summary>
    public const int IdsPerCall = 50_000;
}

/// <summary>Normalizes and checks input fields against <see cref="FieldLimits"/>; throws the typed errors.</summary>
internal static partial class FieldValidation
{
    [GeneratedRegex(@"^\+[1-9][0-9]{1,14}$", RegexOptions.CultureInvariant)]
    private static partial Regex E164();

    public static string Required(string? value, string field, int maxLength)
    {
        var trimmed = value?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            throw new InvalidFieldException(field, "is required.");
        }
        return MaxLength(trimmed, field, maxLength);
    }

    public static string? Optional(string? value, string field, int maxLength)
    {
        var trimmed = value?.Trim();
        return string.IsNullOrEmpty(trimmed) ? null : MaxLength(trimmed, field, maxLength);
    }

    public static string MaxLength(string value, string field, int maxLength) =>
        value.Length > maxLength ? throw new FieldTooLongException(field, maxLength, value.Length) : value;

    public static string Phone(string? value, string field)
    {
        var phone = Required(value, field, FieldLimits.Phone);
        return E164().IsMatch(phone) ? phone : throw new InvalidFieldException(field, "must be an E.164 number such as +919876543210.");
    }

    public static string Email(string? value, string field)
    {
        var email = Required(value, field, FieldLimits.Email);
        var at = email.IndexOf('@', StringComparison.Ordinal);
        return at > 0 && at == email.LastIndexOf('@') && at < email.Length - 1 && !email.Contains(' ', StringComparison.Ordinal)
            ? email
            : throw new InvalidFieldException(field, "must be an email address.");
    }

    public static string? Truncate(string? value, int maxLength) =>
        value is { Length: > 0 } && value.Length > maxLength ? value[..maxLength] : value;

    /// <summary>Distinct, non-empty ids in their first order; an empty or oversized id is a caller error.</summary>
    public static IReadOnlyList<string> Ids(IEnumerable<string>? ids, string field)
    {
        var distinct = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in ids ?? [])
        {
            var checkedId = Required(id, field, FieldLimits.Id);
            if (seen.Add(checkedId))
            {
                distinct.Add(checkedId);
            }
        }
        return distinct.Count > FieldLimits.IdsPerCall
            ? throw new InvalidFieldException(field, $"at most {FieldLimits.IdsPerCall} ids are allowed in one call.")
            : distinct;
    }

    /// <summary>BSON dates and the SQLite columns both hold milliseconds; truncating first makes both stores return the same instant.</summary>
    public static DateTimeOffset ToStoredPrecision(DateTimeOffset value) =>
        DateTimeOffset.FromUnixTimeMilliseconds(value.ToUnixTimeMilliseconds());
}
