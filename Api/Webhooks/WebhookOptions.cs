using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;

namespace Api.Webhooks;

/// <summary>
/// The <c>Webhooks</c> section. A provider's webhook answers 404 until its token is set; the token is the last
/// segment of the URL given to the provider (<c>/api/webhooks/bulksms/&lt;token&gt;</c>), since BulkSMS signs nothing.
/// </summary>
public sealed class WebhookOptions
{
    public const string SectionName = "Webhooks";

    /// <summary>At least 24 characters; URL-safe (letters, digits, '-' and '_'), as <c>openssl rand -hex 24</c> makes one.</summary>
    [MinLength(24), MaxLength(128), RegularExpression("^[A-Za-z0-9_-]+$")]
    public string? BulkSmsToken { get; set; }

    [MinLength(24), MaxLength(128), RegularExpression("^[A-Za-z0-9_-]+$")]
    public string? BrevoToken { get; set; }

    /// <summary>The largest payload read; BulkSMS batches at most a few hundred reports (about 500 bytes each).</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Calls a minute per provider; more get 429, which the providers retry later.</summary>
    [Range(1, 100_000)]
    public int PermitsPerMinute { get; set; } = 600;

    /// <summary>Compares in constant time (of hashes, so not even the length leaks); false when no token is set.</summary>
    public static bool Matches(string? configured, string given)
    {
        if (string.IsNullOrEmpty(configured))
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(configured)), SHA256.HashData(Encoding.UTF8.GetBytes(given)));
    }
}
