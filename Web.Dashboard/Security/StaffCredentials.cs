using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Web.Dashboard.Security;

/// <summary>Checks a user name and password against the configured staff users.</summary>
public sealed class StaffCredentials(IOptions<DashboardOptions> options, IHostEnvironment environment)
{
    private static readonly PasswordHasher<StaffUserOptions> s_hasher = new();

    // Verified when the user name is unknown, so that an unknown name costs as long as a wrong password.
    private static readonly string s_decoyHash = s_hasher.HashPassword(new StaffUserOptions(), Guid.NewGuid().ToString());

    /// <summary>The configured user name (its own spelling) when the password matches; otherwise null.</summary>
    public string? Verify(string userName, string password)
    {
        var user = options.Value.Users.FirstOrDefault(u => string.Equals(u.UserName, userName, StringComparison.OrdinalIgnoreCase));
        if (user is null)
        {
            s_hasher.VerifyHashedPassword(new StaffUserOptions(), s_decoyHash, password);
            return null;
        }
        if (!string.IsNullOrWhiteSpace(user.PasswordHash))
        {
            return s_hasher.VerifyHashedPassword(user, user.PasswordHash, password) == PasswordVerificationResult.Failed ? null : user.UserName;
        }
        var plainAllowed = environment.IsDevelopment() && !string.IsNullOrEmpty(user.Password);
        return plainAllowed && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(user.Password!), Encoding.UTF8.GetBytes(password))
            ? user.UserName
            : null;
    }

    /// <summary>The hash to put in <c>Dashboard:Users:N:PasswordHash</c> for a password.</summary>
    public static string HashPassword(string password) => s_hasher.HashPassword(new StaffUserOptions(), password);
}
