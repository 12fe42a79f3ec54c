var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisClient("redis");
builder.AddMessageSenders();
builder.AddDocumentStore();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
