namespace Web.Dashboard.Security;

public static class AccountPaths
{
    public const string Login = "/account/login";
    public const string Logout = "/account/logout";

    /// <summary>Only a path on this site: a return URL pointing elsewhere would make the login page an open redirect.</summary>
    public static string SafeReturnUrl(string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && returnUrl.StartsWith('/') && !returnUrl.StartsWith("//", StringComparison.Ordinal)
            && !returnUrl.StartsWith("/\\", StringComparison.Ordinal) && !returnUrl.StartsWith(Login, StringComparison.OrdinalIgnoreCase)
            ? returnUrl
            : "/";
}
