using Aspire.StackExchange.Redis;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public static class RedisConnection
{
    /// <summary>How long a Redis command waits, at most, before it becomes a span.</summary>
    public static readonly TimeSpan SpanFlushInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Aspire's Redis client (the <see cref="IConnectionMultiplexer"/>, its logging and its configuration) with
    /// Redis command spans from the OpenTelemetry instrumentation package instead of Aspire's built-in copy of it.
    /// </summary>
    /// <remarks>
    /// The built-in copy keeps every profiled command, and with it the command's arguments (our task bodies), until
    /// the first 10 s flush after its parent activity ends, and its flush interval cannot be set. Under a
    /// 50,000-row import that held about 60 MB of task bodies and took the Api past its 256 MB MemoryMax
    /// (<c>bench/run.sh api</c>). The package drains its sessions at every tick, here every second.
    /// </remarks>
    public static TBuilder AddRedisConnection<TBuilder>(
        this TBuilder builder, string connectionName, Action<StackExchangeRedisSettings>? settings = null,
        Action<ConfigurationOptions>? options = null) where TBuilder : IHostApplicationBuilder
    {
        builder.AddRedisClient(connectionName, s =>
        {
            settings?.Invoke(s);
            s.DisableTracing = true;
        }, options);
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddRedisInstrumentation(o => o.FlushInterval = SpanFlushInterval));
        return builder;
    }
}
