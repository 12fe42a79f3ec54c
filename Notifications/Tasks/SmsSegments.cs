namespace Notifications.Tasks;

public enum SmsEncoding
{
    /// <summary>GSM 03.38 7-bit default alphabet (with its extension table): 160 characters, or 153 a part.</summary>
    Gsm7,

    /// <summary>UCS-2, needed by any character outside GSM 03.38 (Telugu, Devanagari, emoji): 70 code units, or 67 a part.</summary>
    Ucs2,
}

/// <summary>How an SMS travels: its encoding, how many parts a phone reassembles, and how many units it fills.</summary>
public readonly record struct SmsSegments(SmsEncoding Encoding, int Parts, int Units)
{
    /// <summary>
    /// The most parts a queued SMS may take. The longest template filled with the longest stored fields
    /// (200-character Telugu names and titles) needs 8 in UCS-2; past 10 a message is refused, not cut.
    /// </summary>
    public const int MaxParts = 10;

    private const int Gsm7Single = 160, Gsm7Part = 153, Ucs2Single = 70, Ucs2Part = 67;

    // GSM 03.38's basic table (without the escape itself) and the extension table, whose characters take two septets.
    private const string Gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    private const string Gsm7Extension = "\f^{}\\[~]|€";

    /// <summary>Counts the parts of <paramref name="text"/> as a phone network would send it.</summary>
    /// <param name="allowUcs2">False when the provider sends GSM-7 only and replaces other characters with '?'.</param>
    public static SmsSegments Count(string text, bool allowUcs2 = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var units = new List<int>(text.Length);
        var gsm7 = true;
        foreach (var c in text)
        {
            if (Gsm7Basic.Contains(c, StringComparison.Ordinal))
            {
                units.Add(1);
            }
            else if (Gsm7Extension.Contains(c, StringComparison.Ordinal))
            {
                units.Add(2);
            }
            else if (allowUcs2)
            {
                gsm7 = false;
                break;
            }
            else
            {
                units.Add(1); // sent as '?'
            }
        }
        if (!gsm7)
        {
            // UCS-2 counts UTF-16 code units; a surrogate pair (an emoji) is two and is never split across parts.
            units.Clear();
            for (var i = 0; i < text.Length; i++)
            {
                var pair = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
                units.Add(pair ? 2 : 1);
                if (pair)
                {
                    i++;
                }
            }
        }

        var total = units.Sum();
        var (single, part) = gsm7 ? (Gsm7Single, Gsm7Part) : (Ucs2Single, Ucs2Part);
        var encoding = gsm7 ? SmsEncoding.Gsm7 : SmsEncoding.Ucs2;
        if (total <= single)
        {
            return new SmsSegments(encoding, total == 0 ? 0 : 1, total);
        }

        // Concatenated: a part holds `part` units, and an escape pair or a surrogate pair moves whole to the next part.
        var parts = 1;
        var filled = 0;
        foreach (var unit in units)
        {
            if (filled + unit > part)
            {
                parts++;
                filled = 0;
            }
            filled += unit;
        }
        return new SmsSegments(encoding, parts, total);
    }
}
