using AppHost.Backends;
using AppHost.Deployment;

var builder = DistributedApplication.CreateBuilder(args);
var choices = new BackendChoices();

// Each dependency comes from, in order: a connection string in configuration (an existing server),
// a container when a container runtime answers, or an embedded default. BackendChoices logs which.
var redis = builder.AddQueueAndCache(choices);
var documents = builder.AddDocumentStore(choices);

// One HS256 key for the Api and the dashboard: the old backend's JWT_SECRET_KEY when configured (its
// tokens then validate), otherwise one generated once and kept in the AppHost's user secrets.
var jwtSecret = builder.Configuration["JWT_SECRET_KEY"] is { Length: > 0 } configuredSecret
    ? builder.AddParameter("jwt-secret-key", configuredSecret, secret: true)
    : builder.AddParameter("jwt-secret-key", new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true, persist: true);

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
var dashboard = builder.AddProject<Projects.Web_Dashboard>("web-dashboard")
    .WithReference(api).WaitFor(api)
    .WithEnvironment("JWT_SECRET_KEY", jwtSecret)
    .WithHttpHealthCheck(HealthPaths.Health)
    .WithExternalHttpEndpoints()
    .WithUbuntuVmService(port: 8001, memoryMaxMegabytes: VmMemoryBudget.WebDashboardMemoryMaxMegabytes);
if (builder.ExecutionContext.IsRunMode)
{
    // A development sign-in: user "admin", password shown under the AppHost dashboard's parameters
    // (and kept in its user secrets); set Parameters:dashboard-password to choose it. A deployment
    // configures Dashboard__Users__N__PasswordHash instead; plain passwords work only in Development.
    var dashboardPassword = builder.AddParameter("dashboard-password", new GenerateParameterDefault { MinLength = 16, Special = false }, secret: true, persist: true);
    dashboard
        .WithEnvironment("Dashboard__Users__0__UserName", "admin")
        .WithEnvironment("Dashboard__Users__0__Password", dashboardPassword);
}

// deploy/ubuntu/ (systemd, Redis, MongoDB, nginx) is generated from this model: see its README.md.
builder.AddUbuntuVmDeployment();

choices.LogOnStart(builder);
builder.Build().Run();
