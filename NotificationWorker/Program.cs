var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisClient("redis");
builder.AddProcessMemoryReporter("notification-worker");
builder.AddMessageSenders();
builder.AddDocumentStore();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
