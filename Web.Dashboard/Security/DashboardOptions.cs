using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Web.Dashboard.Security;

/// <summary>The <c>Dashboard</c> section: who may sign in, and how often the overview refreshes.</summary>
public sealed class DashboardOptions
{
    public const string SectionName = "Dashboard";

    public static readonly TimeSpan DefaultRefreshInterval = TimeSpan.FromSeconds(5);

    public List<StaffUserOptions> Users { get; set; } = [];

    /// <summary>The issue asks for a refresh at least every 5 s; faster than 1 s only loads the Api.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:00:05")]
    public TimeSpan RefreshInterval { get; set; } = DefaultRefreshInterval;
}

public sealed class StaffUserOptions
{
    public string UserName { get; set; } = "";

    /// <summary>An ASP.NET Core Identity password hash (<c>PasswordHasher</c>); what production uses.</summary>
    public string? PasswordHash { get; set; }

    /// <summary>A plain password, accepted only in Development (the AppHost's generated one).</summary>
    public string? Password { get; set; }
}

/// <summary>Refuses at start a user list nobody can sign in with, or one that keeps plain passwords outside Development.</summary>
public sealed class DashboardOptionsValidation(IHostEnvironment environment) : IValidateOptions<DashboardOptions>
{
    public ValidateOptionsResult Validate(string? name, DashboardOptions options)
    {
        var failures = new List<string>();
        if (options.Users.Count == 0)
        {
            failures.Add("Dashboard:Users names no staff user, so nobody could sign in. Add Dashboard:Users:0:UserName and PasswordHash.");
        }
        for (var i = 0; i < options.Users.Count; i++)
        {
            var user = options.Users[i];
            if (string.IsNullOrWhiteSpace(user.UserName))
            {
                failures.Add($"Dashboard:Users:{i}:UserName is empty.");
            }
            var hasHash = !string.IsNullOrWhiteSpace(user.PasswordHash);
            var hasPassword = !string.IsNullOrEmpty(user.Password);
            if (hasPassword && !environment.IsDevelopment())
            {
                failures.Add($"Dashboard:Users:{i}:Password is a plain password, allowed only in Development; set PasswordHash instead.");
            }
            else if (!hasHash && !hasPassword)
            {
                failures.Add($"Dashboard:Users:{i} has neither PasswordHash nor (in Development) Password.");
            }
        }
        var duplicates = options.Users.GroupBy(u => u.UserName, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key);
        failures.AddRange(duplicates.Select(d => $"Dashboard:Users names '{d}' more than once."));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
