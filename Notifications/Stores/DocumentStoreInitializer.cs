using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Notifications.Stores;

/// <summary>
/// Creates the schema before the host starts serving, so the first request never meets a missing table
/// or a collection without its unique index.
/// </summary>
internal sealed partial class DocumentStoreInitializer(IDocumentDatabase database, ILogger<DocumentStoreInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        LogSchemaReady(database.Provider);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Document store schema is ready ({Provider}).")]
    private partial void LogSchemaReady(DocumentStoreProvider provider);
}
