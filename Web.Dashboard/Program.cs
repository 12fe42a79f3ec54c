using Web.Dashboard.Components;
using Web.Dashboard.Services;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Services.AddRazorComponents().AddInteractiveServerComponents();

// "http://api" is resolved by service discovery from what the AppHost passes (services__api__http__0).
builder.Services.AddHttpClient<NotificationsApiClient>(client =>
    client.BaseAddress = new Uri(builder.Configuration["NotificationsApi:BaseAddress"] ?? "http://api"));

var app = builder.Build();

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/Error", createScopeForErrors: true);
}
app.UseAntiforgery();
app.MapStaticAssets();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
app.MapDefaultEndpoints();

app.Run();
