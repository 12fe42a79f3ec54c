using Microsoft.Extensions.Options;
using Web.Dashboard.Security;
using Web.Dashboard.Tests.Support;

namespace Web.Dashboard.Tests.Security;

public sealed class StaffCredentialsTests
{
    [Fact]
    public void Verify_AcceptsThePasswordOfAHashedUser_InAnyEnvironment()
    {
        var credentials = Credentials("Production", new StaffUserOptions { UserName = "Priya", PasswordHash = StaffCredentials.HashPassword("correct horse") });

        Assert.Equal("Priya", credentials.Verify("priya", "correct horse"));
        Assert.Null(credentials.Verify("priya", "wrong horse"));
    }

    [Fact]
    public void Verify_AcceptsAPlainPassword_OnlyInDevelopment()
    {
        var user = new StaffUserOptions { UserName = "admin", Password = "dev-password" };

        Assert.Equal("admin", Credentials("Development", user).Verify("admin", "dev-password"));
        Assert.Null(Credentials("Production", user).Verify("admin", "dev-password"));
    }

    [Fact]
    public void Verify_RejectsAnUnknownUser()
    {
        var credentials = Credentials("Development", new StaffUserOptions { UserName = "admin", Password = "dev-password" });

        Assert.Null(credentials.Verify("mallory", "dev-password"));
    }

    private static StaffCredentials Credentials(string environment, params StaffUserOptions[] users) =>
        new(Options.Create(new DashboardOptions { Users = [.. users] }), new FixedEnvironment(environment));
}
