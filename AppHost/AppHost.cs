using AppHost.Backends;

var builder = DistributedApplication.CreateBuilder(args);
var choices = new BackendChoices();

// Each dependency comes from, in order: a connection string in configuration (an existing server),
// a container when a container runtime answers, or an embedded default. BackendChoices logs which.
var redis = builder.AddQueueAndCache(choices);
var documents = builder.AddDocumentStore(choices);

// One shared HS256 secret (the old backend's JWT_SECRET_KEY): the dashboard mints staff tokens with
// it and the Api checks them. Generated once and kept in the AppHost's user secrets unless configured.
var jwtSecret = builder.AddParameter("jwt-secret-key", new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true, persist: true);

var api = builder.AddProject<Projects.Api>("api")
    .WithEnvironment("JWT_SECRET_KEY", jwtSecret)
    .WithReference(redis).WaitFor(redis)
    .WithDocumentStore(documents)
    .WithHttpHealthCheck(HealthPaths.Health);

// The worker needs the same queue and store as the Api, but not the Api itself: it keeps
// delivering what is already queued while the Api restarts.
builder.AddProject<Projects.NotificationWorker>("notification-worker")
    .WithReference(redis).WaitFor(redis)
    .WithDocumentStore(documents)
    .WithHttpHealthCheck(HealthPaths.Health);

// The dashboard reads everything through the Api (service discovery), never Redis or the store directly.
var dashboard = builder.AddProject<Projects.Web_Dashboard>("web-dashboard")
    .WithEnvironment("JWT_SECRET_KEY", jwtSecret)
    .WithReference(api).WaitFor(api)
    .WithHttpHealthCheck(HealthPaths.Health)
    .WithExternalHttpEndpoints();
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

choices.LogOnStart(builder);
builder.Build().Run();
