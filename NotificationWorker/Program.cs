var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisClient("redis");
builder.AddMessageSenders();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
