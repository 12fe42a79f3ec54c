using Web.Dashboard.Security;
using Web.Dashboard.Tests.Support;

namespace Web.Dashboard.Tests.Security;

public sealed class DashboardOptionsValidationTests
{
    [Fact]
    public void Validate_Fails_WhenNoStaffUserIsConfigured()
    {
        var result = new DashboardOptionsValidation(new FixedEnvironment("Production")).Validate(null, new DashboardOptions());

        Assert.True(result.Failed);
        Assert.Contains("nobody could sign in", result.FailureMessage);
    }

    [Fact]
    public void Validate_RefusesAPlainPassword_OutsideDevelopment()
    {
        var options = new DashboardOptions { Users = [new StaffUserOptions { UserName = "admin", Password = "dev-password" }] };

        Assert.True(new DashboardOptionsValidation(new FixedEnvironment("Production")).Validate(null, options).Failed);
        Assert.True(new DashboardOptionsValidation(new FixedEnvironment("Development")).Validate(null, options).Succeeded);
    }

    [Fact]
    public void Validate_Fails_WhenAUserHasNoPasswordAtAll()
    {
        var options = new DashboardOptions { Users = [new StaffUserOptions { UserName = "admin" }] };

        var result = new DashboardOptionsValidation(new FixedEnvironment("Development")).Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("neither PasswordHash nor", result.FailureMessage);
    }
}
