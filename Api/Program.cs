var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisClient("redis");
builder.AddDocumentStore();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGet("/", () => TypedResults.Ok(new { service = "notifications-api" })).ExcludeFromDescription();

app.Run();

/// <summary>Entry point, visible to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
