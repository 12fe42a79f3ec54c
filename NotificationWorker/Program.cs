var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisConnection("redis");
builder.AddProcessMemoryReporter("notification-worker");
builder.AddDocumentStore();
builder.AddMessageSenders();
builder.AddNotificationDelivery();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();

/// <summary>Entry point, visible to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
