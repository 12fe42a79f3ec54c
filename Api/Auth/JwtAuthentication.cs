using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Api.Auth;

/// <summary>The policies endpoints ask for; roles come from the old backend's <c>role</c> claim.</summary>
public static class AuthPolicies
{
    public const string Staff = "Staff";
    public const string Student = "Student";
    /// <summary>Staff, or a student for what is theirs: the endpoint checks the ownership.</summary>
    public const string StaffOrStudent = "StaffOrStudent";

    public const string RoleClaim = "role";
    public const string SubjectClaim = "sub";
    public static readonly string[] StaffRoles = ["staff", "admin"];
    public const string StudentRole = "student";

    public static bool IsStaff(ClaimsPrincipal user) => StaffRoles.Any(role => user.HasClaim(RoleClaim, role));
}

/// <summary>The HS256 key the old Flask backend signs tokens with (<c>JWT_SECRET_KEY</c>).</summary>
public sealed class JwtSigningOptions
{
    public const string SecretKeyName = "JWT_SECRET_KEY";

    /// <summary>HS256 needs a key of at least 256 bits; the token library refuses shorter ones.</summary>
    public const int MinimumSecretBytes = 32;

    [Required(ErrorMessage = $"{SecretKeyName} is not set: the Api cannot validate staff and student tokens without it.")]
    public string? SecretKey { get; set; }
}

public static class JwtAuthenticationExtensions
{
    public static WebApplicationBuilder AddJwtAuthentication(this WebApplicationBuilder builder)
    {
        var signing = builder.Services.AddOptions<JwtSigningOptions>()
            .Configure<IConfiguration>((options, configuration) => options.SecretKey = configuration[JwtSigningOptions.SecretKeyName]);
        // Outside Development a missing or short secret stops the start with a clear message; in
        // Development the AppHost passes one, and without it every token is rejected (never a made-up key).
        if (!builder.Environment.IsDevelopment())
        {
            signing.ValidateDataAnnotations()
                .Validate(o => o.SecretKey is null || Encoding.UTF8.GetByteCount(o.SecretKey) >= JwtSigningOptions.MinimumSecretBytes,
                    $"{JwtSigningOptions.SecretKeyName} must be at least {JwtSigningOptions.MinimumSecretBytes} bytes long for HS256.")
                .ValidateOnStart();
        }

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<JwtSigningOptions>>((bearer, signingOptions) =>
            {
                var secret = signingOptions.Value.SecretKey;
                // The old backend's claims (sub, role) are read as they are, not mapped to long URIs.
                bearer.MapInboundClaims = false;
                bearer.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidateIssuer = false,
                    ValidateAudience = false,
                    ValidateLifetime = true,
                    RequireExpirationTime = false,
                    ValidateIssuerSigningKey = true,
                    ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                    IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(PadForValidation(secret))),
                    NameClaimType = AuthPolicies.SubjectClaim,
                    RoleClaimType = AuthPolicies.RoleClaim,
                };
            });

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(AuthPolicies.Staff, policy => policy.RequireAuthenticatedUser().RequireClaim(AuthPolicies.RoleClaim, AuthPolicies.StaffRoles))
            .AddPolicy(AuthPolicies.Student, policy => policy.RequireAuthenticatedUser().RequireClaim(AuthPolicies.RoleClaim, AuthPolicies.StudentRole)
                .RequireClaim(AuthPolicies.SubjectClaim))
            .AddPolicy(AuthPolicies.StaffOrStudent, policy => policy.RequireAuthenticatedUser()
                .RequireClaim(AuthPolicies.RoleClaim, [.. AuthPolicies.StaffRoles, AuthPolicies.StudentRole]));
        return builder;
    }

    // Without a secret (Development only) a random key stands in: no token can match it, so all are refused.
    private static string PadForValidation(string? secret) =>
        string.IsNullOrEmpty(secret) ? Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48)) : secret;
}
