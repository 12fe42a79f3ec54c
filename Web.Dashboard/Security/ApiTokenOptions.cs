using System.ComponentModel.DataAnnotations;

namespace Web.Dashboard.Security;

/// <summary>How the dashboard signs the short-lived tokens it calls the Api with.</summary>
public sealed class ApiTokenOptions
{
    public const string SectionName = "ApiToken";

    /// <summary>The old backend's variable name for the shared HS256 secret; the AppHost passes it to the Api and the dashboard.</summary>
    public const string SharedSecretVariable = "JWT_SECRET_KEY";

    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromMinutes(5);

    /// <summary>The shared secret, read from <see cref="SharedSecretVariable"/> unless this section sets it.</summary>
    // HS256 needs a key of at least 256 bits; a shorter one fails at the first call, so refuse it at start.
    [Required, MinLength(32)]
    public string? SigningKey { get; set; }

    /// <summary>Short, because a leaked token is then soon worthless; a new one is minted for each call.</summary>
    [Range(typeof(TimeSpan), "00:00:30", "01:00:00")]
    public TimeSpan Lifetime { get; set; } = DefaultLifetime;

    /// <summary>Set only when the Api validates an issuer or audience; the contract asks for neither.</summary>
    public string? Issuer { get; set; }

    public string? Audience { get; set; }
}
