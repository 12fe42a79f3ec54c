using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Notifications.Stores.Sqlite;

namespace Notifications.Stores;

/// <summary>
/// SQLite's stand-in for MongoDB's TTL index: deletes delivery records past their retention every
/// <see cref="DocumentStoreOptions.PruneInterval"/>. Does nothing when the store is MongoDB.
/// </summary>
internal sealed partial class DeliveryLogPruner(IServiceProvider services, IOptions<DocumentStoreOptions> options, TimeProvider time, ILogger<DeliveryLogPruner> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.Provider != DocumentStoreProvider.Sqlite)
        {
            return;
        }
        var log = services.GetRequiredService<SqliteDeliveryLog>();
        using var timer = new PeriodicTimer(options.Value.PruneInterval, time);
        do
        {
            try
            {
                var deleted = await log.PruneExpiredAsync(stoppingToken).ConfigureAwait(false);
                if (deleted > 0)
                {
                    LogPruned(deleted);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A failed prune only delays the next one; it must not stop the service.
                LogPruneFailed(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Pruned {Count} delivery records past their retention.")]
    private partial void LogPruned(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pruning the delivery log failed; trying again at the next interval.")]
    private partial void LogPruneFailed(Exception exception);
}
