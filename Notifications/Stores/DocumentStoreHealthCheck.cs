using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Notifications.Stores;

/// <summary>Healthy when the database answers: MongoDB <c>ping</c>, SQLite <c>select 1</c>.</summary>
internal sealed class DocumentStoreHealthCheck(IDocumentDatabase database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await database.PingAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy($"{database.Provider} answered.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"{database.Provider} did not answer.", ex);
        }
    }
}
