using System.Net;
using Api.Tests.Infrastructure;

namespace Api.Tests.Auth;

public sealed class AuthTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> StaffEndpoints => new()
    {
        { "GET", "/api/students" },
        { "GET", "/api/students/x" },
        { "POST", "/api/students/upload" },
        { "POST", "/api/forms" },
        { "GET", "/api/forms/f/submissions" },
        { "GET", "/api/forms/f/analytics" },
        { "POST", "/api/batches" },
        { "POST", "/api/batches/b/students" },
        { "GET", "/api/batches" },
        { "GET", "/api/batches/b" },
        // GET /api/notifications and /api/notifications/{id} are open to students for their own: NotificationsApiTests.
        { "GET", "/api/monitoring/queue" },
        { "GET", "/api/monitoring/cache" },
        { "GET", "/api/monitoring/system" },
        { "GET", "/api/monitoring/alerts" },
        { "GET", "/api/monitoring/health" },
        { "GET", "/api/dead-letters" },
        { "GET", "/api/dead-letters/d" },
        { "POST", "/api/dead-letters/d/retry" },
        { "POST", "/api/dead-letters/retry-all" },
        { "DELETE", "/api/dead-letters/d" },
        { "POST", "/api/dead-letters/delete-all" },
        { "GET", "/api/outbox" },
        { "GET", "/api/outbox/o" },
    };

    [Theory]
    [MemberData(nameof(StaffEndpoints))]
    public async Task StaffEndpoint_AnswersUnauthorizedOrForbidden_WithoutAStaffToken(string method, string path)
    {
        await using var host = await ApiTestHost.StartAsync();

        var missing = await host.Anonymous().SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Ct);
        await ProblemAssert.IsProblemAsync(missing, HttpStatusCode.Unauthorized);

        var badSignature = await host.WithToken(ApiTestHost.Token("staff", secret: "another-secret-key-that-is-long-enough-123"))
            .SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Ct);
        await ProblemAssert.IsProblemAsync(badSignature, HttpStatusCode.Unauthorized);

        var student = await host.WithToken(ApiTestHost.Token("student", "s1")).SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Ct);
        await ProblemAssert.IsProblemAsync(student, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task SubmitForm_IsForbidden_ForStaff_AndUnauthorized_WithExpiredToken()
    {
        await using var host = await ApiTestHost.StartAsync();
        var body = ApiTestHost.JsonBody(new { answers = new Dictionary<string, string>() });

        await ProblemAssert.IsProblemAsync(await host.Staff().PostAsync("/api/forms/f/submissions", body, Ct), HttpStatusCode.Forbidden);
        var expired = host.WithToken(ApiTestHost.Token("student", "s1", expires: DateTime.UtcNow.AddHours(-1)));
        await ProblemAssert.IsProblemAsync(await expired.PostAsync("/api/forms/f/submissions", body, Ct), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task AdminRole_CountsAsStaff()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.WithToken(ApiTestHost.Token("admin")).GetAsync("/api/students", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task FormsRead_NeedsAnySignedInUser()
    {
        await using var host = await ApiTestHost.StartAsync();
        await ProblemAssert.IsProblemAsync(await host.Anonymous().GetAsync("/api/forms/active", Ct), HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, (await host.Student("s1").GetAsync("/api/forms/active", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Staff().GetAsync("/api/forms/active", Ct)).StatusCode);
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/alive")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/api-docs")]
    public async Task OpenEndpoints_AnswerWithoutToken(string path)
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Anonymous().GetAsync(path, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task OpenApiDocument_DescribesTheEndpoints()
    {
        await using var host = await ApiTestHost.StartAsync();
        var document = await host.Anonymous().GetStringAsync("/openapi/v1.json", Ct);
        Assert.Contains("/api/students/upload", document, StringComparison.Ordinal);
        Assert.Contains("/api/dead-letters/{id}/retry", document, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_FailsClearly_WhenSecretIsMissingOutsideDevelopment()
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await ApiTestHost.StartAsync(s => s["JWT_SECRET_KEY"] = null, environment: "Production");
        });
        Assert.Contains("JWT_SECRET_KEY", failure.ToString(), StringComparison.Ordinal);
    }
}
