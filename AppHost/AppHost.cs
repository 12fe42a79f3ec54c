using AppHost.Backends;

var builder = DistributedApplication.CreateBuilder(args);
var choices = new BackendChoices();

// Each dependency comes from, in order: a connection string in configuration (an existing server),
// a container when a container runtime answers, or an embedded default. BackendChoices logs which.
var redis = builder.AddQueueAndCache(choices);
var documents = builder.AddDocumentStore(choices);

var api = builder.AddProject<Projects.Api>("api")
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
builder.AddProject<Projects.Web_Dashboard>("web-dashboard")
    .WithReference(api).WaitFor(api)
    .WithHttpHealthCheck(HealthPaths.Health)
    .WithExternalHttpEndpoints();

choices.LogOnStart(builder);
builder.Build().Run();
