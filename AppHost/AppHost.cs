using AppHost.Backends;
using AppHost.Deployment;

var builder = DistributedApplication.CreateBuilder(args);
var choices = new BackendChoices();

// Each dependency comes from, in order: a connection string in configuration (an existing server),
// a container when a container runtime answers, or an embedded default. BackendChoices logs which.
var redis = builder.AddQueueAndCache(choices);
var documents = builder.AddDocumentStore(choices);

var api = builder.AddProject<Projects.Api>("api")
    .WithReference(redis).WaitFor(redis)
    .WithDocumentStore(documents)
    .WithHttpHealthCheck(HealthPaths.Health)
    .WithRequestBodyLimit(RequestLimits.ApiUploadMegabytes)
    .WithExternalHttpEndpoints()
    .WithUbuntuVmService(port: 8000, memoryMaxMegabytes: VmMemoryBudget.ApiMemoryMaxMegabytes);

// The worker needs the same queue and store as the Api, but not the Api itself: it keeps
// delivering what is already queued while the Api restarts.
builder.AddProject<Projects.NotificationWorker>("notification-worker")
    .WithReference(redis).WaitFor(redis)
    .WithDocumentStore(documents)
    .WithHttpHealthCheck(HealthPaths.Health)
    .WithUbuntuVmService(port: 8002, memoryMaxMegabytes: VmMemoryBudget.NotificationWorkerMemoryMaxMegabytes);

// The dashboard reads everything through the Api (service discovery), never Redis or the store directly.
builder.AddProject<Projects.Web_Dashboard>("web-dashboard")
    .WithReference(api).WaitFor(api)
    .WithHttpHealthCheck(HealthPaths.Health)
    .WithExternalHttpEndpoints()
    .WithUbuntuVmService(port: 8001, memoryMaxMegabytes: VmMemoryBudget.WebDashboardMemoryMaxMegabytes);

// deploy/ubuntu/ (systemd, Redis, MongoDB, nginx) is generated from this model: see its README.md.
builder.AddUbuntuVmDeployment();

choices.LogOnStart(builder);
builder.Build().Run();
