using System.Text.Json;
using System.Text.Json.Serialization;
using Api.Auth;
using Api.Batches;
using Api.Caching;
using Api.DeadLetters;
using Api.Deliveries;
using Api.Forms;
using Api.Idempotency;
using Api.Monitoring;
using Api.Outbox;
using Api.Problems;
using Api.Sending;
using Api.Students;
using Api.Suppressions;
using Api.Webhooks;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Options;
using Notifications.Monitoring;
using Notifications.Outbox;
using Notifications.Queue;
using Notifications.Templates;
using Scalar.AspNetCore;
using StackExchange.Redis;
using ZiggyCreatures.Caching.Fusion;
using ZiggyCreatures.Caching.Fusion.Backplane.StackExchangeRedis;
using ZiggyCreatures.Caching.Fusion.Serialization.SystemTextJson;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
// Redis health is judged by QueueHealthCheck: Redis away makes the Api Degraded (writes go on: their notifications
// wait in the store's outbox), not Unhealthy. Fail fast while disconnected: a cache read or an idempotency
// lookup then gives up at once instead of waiting in a backlog.
builder.AddRedisConnection("redis", settings => settings.DisableHealthChecks = true, options =>
{
    options.BacklogPolicy = BacklogPolicy.FailFast;
    // INFO memory (the Redis memory gauge) is an admin command to StackExchange.Redis.
    options.AllowAdmin = true;
});
builder.AddDocumentStore();
builder.AddNotificationQueue();
builder.AddProcessMemoryReporter("api");
builder.AddJwtAuthentication();

builder.Services.ConfigureHttpJsonOptions(options =>
    options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase)));
builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = StatusProblems.AddDetail);
// Binding errors (malformed JSON, "page=abc", an empty body) throw in every environment, so ApiExceptionHandler
// answers them with the field and the reason; by default only Development does, and Production answers a bare 400.
builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
builder.Services.AddExceptionHandler<ApiExceptionHandler>();
builder.Services.AddOpenApi();

AddValidatedOptions<UploadLimits>(builder, UploadLimits.SectionName);
AddValidatedOptions<ValidationOptions>(builder, ValidationOptions.SectionName)
    .Validate(o => ContactValidator.IsKnownRegion(o.DefaultRegion), "Validation:DefaultRegion is not a region libphonenumber knows.");
AddValidatedOptions<ApiCacheOptions>(builder, ApiCacheOptions.SectionName);
AddValidatedOptions<OutboxRelayOptions>(builder, OutboxRelayOptions.SectionName);
AddValidatedOptions<MonitoringOptions>(builder, MonitoringOptions.SectionName);
builder.Services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.SectionName).ValidateDataAnnotations().ValidateOnStart()
    .PostConfigure<IHostEnvironment>((options, environment) =>
        options.Directory = Path.GetFullPath(options.Directory ?? Path.Combine(".data", "outbox"), environment.ContentRootPath));

builder.Services.AddSingleton<ContactValidator>();
builder.Services.AddSingleton<NotificationTemplates>();
builder.Services.AddSingleton<OutboxReader>();
builder.Services.AddSingleton<IdempotentResponses>();
builder.Services.AddSingleton<OutboxRelay>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
builder.Services.AddSingleton<StudentMessages>();
builder.Services.AddSingleton<SubmissionIntake>();
builder.Services.AddSingleton<StudentImport>();
builder.Services.AddSingleton<BatchNotices>();
builder.Services.AddWebhooks();
builder.Services.AddSingleton<ProcessMemoryReports>();
builder.Services.AddSingleton<SystemMetrics>();
builder.Services.AddSingleton<AlertBoard>();
builder.Services.AddSingleton<AlertMonitor>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<AlertMonitor>());
builder.Services.AddHealthChecks().AddCheck<QueueHealthCheck>(QueueHealthCheck.Name, tags: ["ready"]);

// FusionCache: memory, then Redis (the app's own connection), with a backplane so a write on one
// Api instance evicts the entry from the others' memory. No key prefix: the keys are the old plan's.
builder.Services.AddSingleton<ApiCache>();
builder.Services.AddSingleton<RecordCache>();
builder.Services.AddFusionCache()
    .WithOptions(options =>
    {
        options.DistributedCacheKeyModifierMode = CacheKeyModifierMode.None;
        options.CacheKeyPrefix = null;
    })
    .WithDefaultEntryOptions(options =>
    {
        options.Duration = TimeSpan.FromMinutes(5);
        // An entry in Redis that does not read back (written by another version, or damaged) is a miss, and the
        // store answers; by default FusionCache throws, and one bad entry would fail every request that reads it.
        options.ReThrowSerializationExceptions = false;
    })
    .WithSerializer(new FusionCacheSystemTextJsonSerializer(new JsonSerializerOptions(JsonSerializerDefaults.Web) { IncludeFields = true }))
    .WithDistributedCache(sp => new RedisCache(Options.Create(new RedisCacheOptions
    {
        ConnectionMultiplexerFactory = () => Task.FromResult(sp.GetRequiredService<IConnectionMultiplexer>()),
    })))
    .WithBackplane(sp => new RedisBackplane(Options.Create(new RedisBackplaneOptions
    {
        ConnectionMultiplexerFactory = () => Task.FromResult(sp.GetRequiredService<IConnectionMultiplexer>()),
    })));

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
// Before authentication: a request target that names no resource of this Api is refused whoever sends it.
app.UseMiddleware<RequestTargetGuard>();
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();

app.MapDefaultEndpoints();
app.MapOpenApi();
app.MapScalarApiReference("/api-docs");
app.MapGet("/", () => TypedResults.Redirect("/api-docs")).ExcludeFromDescription();

app.MapStudentsApi();
app.MapFormsApi();
app.MapBatchesApi();
app.MapNotificationsApi();
app.MapMonitoringApi();
app.MapDeadLettersApi();
app.MapOutboxApi();
app.MapSuppressionsApi();
app.MapWebhooksApi();

app.Run();

static OptionsBuilder<T> AddValidatedOptions<T>(WebApplicationBuilder builder, string section) where T : class =>
    builder.Services.AddOptions<T>().BindConfiguration(section).ValidateDataAnnotations().ValidateOnStart();

/// <summary>Entry point, visible to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
