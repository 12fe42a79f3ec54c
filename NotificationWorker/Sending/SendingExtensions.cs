using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using NotificationWorker.Sending;
using Notifications.Templates;
using Polly;
using Notifications.Outbox;

namespace Microsoft.Extensions.Hosting;

public static class SendingExtensions
{
    /// <summary>
    /// Registers the providers, the outbox, the templates and <see cref="MessageSenders"/>, binding
    /// and validating the <c>Sending</c> section (plus the old plan's BULKSMS_USERNAME,
    /// BULKSMS_PASSWORD and BREVO_API_KEY). Needs an <c>IConnectionMultiplexer</c> for the shared rate limits.
    /// </summary>
    public static TBuilder AddMessageSenders<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;

        services.AddOptions<SendingOptions>().BindConfiguration(SendingOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<BulkSmsOptions>().BindConfiguration(BulkSmsOptions.SectionName)
            .Configure<IConfiguration>((options, config) =>
            {
                options.Username = FirstSet(options.Username, config["BULKSMS_USERNAME"]);
                options.Password = FirstSet(options.Password, config["BULKSMS_PASSWORD"]);
            })
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<BrevoOptions>().BindConfiguration(BrevoOptions.SectionName)
            .Configure<IConfiguration>((options, config) => options.ApiKey = FirstSet(options.ApiKey, config["BREVO_API_KEY"]))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SmtpOptions>().BindConfiguration(SmtpOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.SectionName)
            .PostConfigure<IHostEnvironment>((options, environment) => options.Directory = Path.GetFullPath(
                string.IsNullOrWhiteSpace(options.Directory) ? Path.Combine(".data", "outbox") : options.Directory,
                environment.ContentRootPath))
            .ValidateDataAnnotations().ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<SendingTelemetry>();
        services.TryAddSingleton<IProviderRateLimiter, RedisRateLimiter>();
        services.TryAddSingleton<SmsDeduplicationIds>();
        services.TryAddSingleton<Notifications.Monitoring.ProviderCircuits>();
        services.TryAddSingleton<NotificationTemplates>();
        services.TryAddSingleton<OutboxReader>();

        // The queue owns retries: it re-runs a task with backoff and honours Retry-After. The
        // standard resilience handler that ServiceDefaults puts on every HttpClient would retry a
        // POST underneath it, multiplying attempts (and a retried send that had in fact landed
        // texts the student twice). These clients keep only a timeout. RemoveAllResilienceHandlers is
        // marked experimental (EXTEXP0001) but is the documented way to undo ConfigureHttpClientDefaults.
#pragma warning disable EXTEXP0001
        services.AddHttpClient(BulkSmsSender.HttpClientName, (sp, client) =>
            {
                var options = sp.GetRequiredService<IOptions<BulkSmsOptions>>().Value;
                client.BaseAddress = new Uri(WithTrailingSlash(options.BaseUrl));
                client.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(
                    System.Text.Encoding.UTF8.GetBytes($"{options.Username}:{options.Password}")));
            })
            .RemoveAllResilienceHandlers()
            .AddResilienceHandler("bulksms-timeout", (pipeline, context) =>
                pipeline.AddTimeout(context.ServiceProvider.GetRequiredService<IOptions<BulkSmsOptions>>().Value.Timeout));

        services.AddHttpClient(BrevoEmailSender.HttpClientName, (sp, client) =>
            {
                var options = sp.GetRequiredService<IOptions<BrevoOptions>>().Value;
                client.BaseAddress = new Uri(WithTrailingSlash(options.BaseUrl));
                if (!string.IsNullOrWhiteSpace(options.ApiKey))
                {
                    client.DefaultRequestHeaders.Add("api-key", options.ApiKey);
                }

                client.DefaultRequestHeaders.Accept.Add(new("application/json"));
            })
            .RemoveAllResilienceHandlers()
            .AddResilienceHandler("brevo-timeout", (pipeline, context) =>
                pipeline.AddTimeout(context.ServiceProvider.GetRequiredService<IOptions<BrevoOptions>>().Value.Timeout));

#pragma warning restore EXTEXP0001

        services.TryAddSingleton<BulkSmsSender>();
        services.TryAddSingleton<BrevoEmailSender>();
        services.TryAddSingleton<SmtpEmailSender>();
        services.TryAddSingleton<MessageSenders>();
        return builder;
    }

    private static string? FirstSet(string? configured, string? fallback) =>
        string.IsNullOrWhiteSpace(configured) ? fallback : configured;

    private static string WithTrailingSlash(string url) => url.EndsWith('/') ? url : url + "/";
}
