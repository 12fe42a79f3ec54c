using Microsoft.Extensions.Logging;
using Notifications.Stores;

namespace Notifications.Receipts;

/// <summary>What one webhook call changed.</summary>
/// <param name="NotYetKnown">Receipts for messages of ours whose send the worker has not logged yet: the provider should send them again.</param>
public sealed record ReceiptSummary(int Recorded, int Duplicates, int Unmatched, int NotYetKnown, int Suppressed, int Ignored);

/// <summary>
/// Stores what a provider's webhook reported: each receipt in its task's timeline (once), and the recipients it
/// puts on the suppression list. Safe to run again with the same reports (a provider's retry): nothing is stored twice.
/// </summary>
public sealed partial class ReceiptIntake(IDeliveryLog deliveryLog, ISuppressionList suppressions, TimeProvider time, ILogger<ReceiptIntake> logger)
{
    public async Task<ReceiptSummary> ApplyAsync(IReadOnlyList<ProviderReport> reports, CancellationToken cancellationToken)
    {
        int recorded = 0, duplicates = 0, unmatched = 0, notYetKnown = 0, suppressed = 0, ignored = 0;
        foreach (var report in reports)
        {
            switch (report)
            {
                case ReceiptReport receipt:
                    var result = await deliveryLog.RecordReceiptAsync(receipt.Receipt, cancellationToken);
                    switch (result.Outcome)
                    {
                        case ReceiptOutcome.Recorded: recorded++; break;
                        case ReceiptOutcome.Duplicate: duplicates++; break;
                        case ReceiptOutcome.UnknownMessage when receipt.SurelyOurs: notYetKnown++; break;
                        default:
                            unmatched++;
                            LogUnmatched(logger, receipt.Receipt.Provider, receipt.Receipt.ProviderMessageId ?? receipt.Receipt.TaskId);
                            break;
                    }
                    // Also on a duplicate: if the first delivery stored the receipt and then failed, its retry adds the suppression.
                    if (receipt.SuppressBecause is { } reason && result.Task is { } task
                        && await suppressions.AddAsync(new Suppression(task.Channel, task.Recipient, reason, receipt.Receipt.At)
                        {
                            Source = receipt.Receipt.Provider,
                            TaskId = task.TaskId,
                        }, cancellationToken))
                    {
                        suppressed++;
                    }
                    break;

                case OptOutReport optOut:
                    if (await suppressions.AddAsync(new Suppression(optOut.Channel, optOut.Address, optOut.Reason, time.GetUtcNow())
                        {
                            Source = optOut.Provider,
                        }, cancellationToken))
                    {
                        suppressed++;
                    }
                    break;

                default:
                    ignored++;
                    break;
            }
        }
        return new ReceiptSummary(recorded, duplicates, unmatched, notYetKnown, suppressed, ignored);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "A {Provider} receipt names a message this system did not send ({MessageId}); acknowledged and left out")]
    private static partial void LogUnmatched(ILogger logger, string provider, string? messageId);
}
