using System.Net;
using System.Net.Sockets;
using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Notifications.Benchmarks;

/// <summary>What more than one benchmark needs: a free loopback port and the Api's bearer tokens.</summary>
internal static class BenchSupport
{
    public const string JwtSecret = "benchmark-secret-key-that-is-long-enough-for-hs256";

    /// <summary>A token as the assessment platform issues them: role "staff" or "student", subject the user (a student's id).</summary>
    public static string Token(string role, string subject) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Subject = new ClaimsIdentity([new Claim("sub", subject), new Claim("role", role)]),
        Expires = DateTime.UtcNow.AddHours(1),
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(JwtSecret)), SecurityAlgorithms.HmacSha256),
    });

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
