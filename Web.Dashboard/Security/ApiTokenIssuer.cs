using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Web.Dashboard.Security;

/// <summary>Mints the JWT (HS256, role "staff", sub = the signed-in user) the Api accepts from staff.</summary>
public sealed class ApiTokenIssuer(IOptions<ApiTokenOptions> options, TimeProvider time)
{
    public const string StaffRole = "staff";

    private readonly JsonWebTokenHandler _handler = new();
    private readonly SigningCredentials _credentials = new(
        new SymmetricSecurityKey(Encoding.UTF8.GetBytes(options.Value.SigningKey ?? "")), SecurityAlgorithms.HmacSha256);

    public string MintFor(string userName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(userName);
        var now = time.GetUtcNow().UtcDateTime;
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            // Plain claim names: the Api reads "role" and "sub" as the old backend's tokens have them.
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = userName,
                ["role"] = StaffRole,
            },
            IssuedAt = now,
            NotBefore = now,
            Expires = now + options.Value.Lifetime,
            Issuer = options.Value.Issuer,
            Audience = options.Value.Audience,
            SigningCredentials = _credentials,
        });
    }
}
