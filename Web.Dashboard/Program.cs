using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Web.Dashboard.Components;
using Web.Dashboard.Security;
using Web.Dashboard.Services;

// `dotnet run --project Web.Dashboard -- hash-password` prints the PasswordHash for a password read from standard input.
if (args is ["hash-password", ..])
{
    Console.Error.Write("Password: ");
    Console.WriteLine(StaffCredentials.HashPassword(Console.ReadLine() ?? ""));
    return;
}

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Services.AddRazorComponents().AddInteractiveServerComponents();

builder.Services.AddOptions<DashboardOptions>()
    .BindConfiguration(DashboardOptions.SectionName)
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<DashboardOptions>, DashboardOptionsValidation>();
builder.Services.AddOptions<ApiTokenOptions>()
    .BindConfiguration(ApiTokenOptions.SectionName)
    .Configure<IConfiguration>((options, configuration) => options.SigningKey ??= configuration[ApiTokenOptions.SharedSecretVariable])
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<StaffCredentials>();
builder.Services.AddSingleton<ApiTokenIssuer>();
builder.Services.AddTransient<StaffTokenHandler>();

builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
    .AddCookie(options =>
    {
        options.LoginPath = AccountPaths.Login;
        options.LogoutPath = AccountPaths.Logout;
        options.Cookie.Name = "notifications-dashboard";
        options.Cookie.HttpOnly = true;
        options.Cookie.SameSite = SameSiteMode.Strict;
        options.ExpireTimeSpan = TimeSpan.FromHours(8);
        options.SlidingExpiration = true;
    });
builder.Services.AddAuthorization();
builder.Services.AddCascadingAuthenticationState();

// "http://api" is resolved by service discovery from what the AppHost passes (services__api__http__0).
var apiAddress = new Uri(builder.Configuration["NotificationsApi:BaseAddress"] ?? "http://api");
builder.Services.AddHttpClient<NotificationsApiClient>(client => client.BaseAddress = apiAddress)
    .AddHttpMessageHandler<StaffTokenHandler>();
builder.Services.AddHttpClient<DashboardMemoryReporter>(client => client.BaseAddress = apiAddress);
builder.Services.AddHostedService(sp => sp.GetRequiredService<DashboardMemoryReporter>());

var app = builder.Build();

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/Error", createScopeForErrors: true);
}
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();
app.MapStaticAssets();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
app.MapDefaultEndpoints();

// A form field makes the endpoint check the antiforgery token, so another site cannot sign staff out.
app.MapPost(AccountPaths.Logout, async (HttpContext context, [FromForm] string? returnUrl) =>
{
    await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
    return TypedResults.LocalRedirect(AccountPaths.Login);
});

app.Run();
