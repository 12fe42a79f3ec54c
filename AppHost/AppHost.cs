using AppHost.Backends;

var builder = DistributedApplication.CreateBuilder(args);
var choices = new BackendChoices();

// Each dependency comes from, in order: a connection string in configuration (an existing server),
// a container when a container runtime answers, or an embedded default. BackendChoices logs which.
var redis = builder.AddQueueAndCache(choices);
var documents = builder.AddDocumentStore(choices);

// One HS256 key for the Api and the dashboard: the old backend's JWT_SECRET_KEY when configured,
// otherwise a generated one for this run (tokens signed by the old backend then do not validate).
var jwtSecret = builder.Configuration["JWT_SECRET_KEY"] is { Length: > 0 } configuredSecret
    ? builder.AddParameter("jwt-secret-key", configuredSecret, secret: true)
    : builder.AddParameter("jwt-secret-key", new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true);
// The worker writes the outbox and the Api reads it: both must name the same folder.
var outboxDirectory = EmbeddedDataDirectory.Resolve(builder, "outbox");

var api = builder.AddProject<Projects.Api>("api")
    .WithReference(redis).WaitFor(redis)
    .WithDocumentStore(documents)
    .WithEnvironment("JWT_SECRET_KEY", jwtSecret)
    .WithEnvironment("Sending__Outbox__Directory", outboxDirectory)
    .WithHttpHealthCheck(HealthPaths.Health);

// The worker needs the same queue and store as the Api, but not the Api itself: it keeps
// delivering what is already queued while the Api restarts.
builder.AddProject<Projects.NotificationWorker>("notification-worker")
    .WithReference(redis).WaitFor(redis)
    .WithDocumentStore(documents)
    .WithEnvironment("Sending__Outbox__Directory", outboxDirectory)
    .WithHttpHealthCheck(HealthPaths.Health);

// The dashboard reads everything through the Api (service discovery), never Redis or the store directly.
builder.AddProject<Projects.Web_Dashboard>("web-dashboard")
    .WithReference(api).WaitFor(api)
    .WithEnvironment("JWT_SECRET_KEY", jwtSecret)
    .WithHttpHealthCheck(HealthPaths.Health)
    .WithExternalHttpEndpoints();

choices.LogOnStart(builder);
builder.Build().Run();
