using AppHost.Backends;
using AppHost.Deployment;

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

var api = builder.AddProject<Projects.Api>("api")
    .WithReference(redis).WaitFor(redis)
    .WithDocumentStore(documents)
    .WithEnvironment("JWT_SECRET_KEY", jwtSecret)
    .WithSharedOutbox()
    .WithHttpHealthCheck(HealthPaths.Health)
    .WithRequestBodyLimit(RequestLimits.ApiUploadMegabytes)
    .WithExternalHttpEndpoints()
    .WithUbuntuVmService(port: 8000, memoryMaxMegabytes: VmMemoryBudget.ApiMemoryMaxMegabytes);

// The worker needs the same queue and store as the Api, but not the Api itself: it keeps
// delivering what is already queued while the Api restarts.
builder.AddProject<Projects.NotificationWorker>("notification-worker")
    .WithReference(redis).WaitFor(redis)
    .WithDocumentStore(documents)
    .WithSharedOutbox()
    .WithHttpHealthCheck(HealthPaths.Health)
    .WithUbuntuVmService(port: 8002, memoryMaxMegabytes: VmMemoryBudget.NotificationWorkerMemoryMaxMegabytes);

// The dashboard reads everything through the Api (service discovery), never Redis or the store directly.
builder.AddProject<Projects.Web_Dashboard>("web-dashboard")
    .WithReference(api).WaitFor(api)
    .WithEnvironment("JWT_SECRET_KEY", jwtSecret)
    .WithHttpHealthCheck(HealthPaths.Health)
    .WithExternalHttpEndpoints()
    .WithUbuntuVmService(port: 8001, memoryMaxMegabytes: VmMemoryBudget.WebDashboardMemoryMaxMegabytes);

// deploy/ubuntu/ (systemd, Redis, MongoDB, nginx) is generated from this model: see its README.md.
builder.AddUbuntuVmDeployment();

choices.LogOnStart(builder);
builder.Build().Run();
