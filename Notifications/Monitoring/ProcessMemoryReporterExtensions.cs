using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Notifications.Monitoring;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public static class ProcessMemoryReporterExtensions
{
    /// <summary>
    /// Reports this process's working set to Redis for the Api's application-memory gauge. Uses the
    /// registered <see cref="IConnectionMultiplexer"/> (Aspire's <c>AddRedisClient</c>); a service without
    /// one (the dashboard reads everything through the Api) gets a connection of its own from
    /// <c>ConnectionStrings:redis</c>, and reports nothing when that is missing.
    /// </summary>
    public static TBuilder AddProcessMemoryReporter<TBuilder>(this TBuilder builder, string serviceName) where TBuilder : IHostApplicationBuilder
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(ProcessMemoryReporterSettings)))
        {
            return builder;
        }
        var hasMultiplexer = services.Any(d => d.ServiceType == typeof(IConnectionMultiplexer));
        var connectionString = builder.Configuration.GetConnectionString(ConnectionStringName);
        if (!hasMultiplexer && string.IsNullOrWhiteSpace(connectionString))
        {
            return builder;
        }
        services.AddSingleton(new ProcessMemoryReporterSettings(serviceName));
        if (hasMultiplexer)
        {
            services.AddHostedService<ProcessMemoryReporter>();
        }
        else
        {
            var options = ConfigurationOptions.Parse(connectionString!);
            options.AbortOnConnectFail = false;
            services.AddHostedService(sp => new ProcessMemoryReporter(
                ConnectionMultiplexer.Connect(options), sp.GetRequiredService<ProcessMemoryReporterSettings>(), sp.GetRequiredService<ILogger<ProcessMemoryReporter>>()));
        }
        return builder;
    }

    private const string ConnectionStringName = "redis";
}
