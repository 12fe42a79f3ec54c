using Api.Caching;
using Api.Sending;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using Notifications.Templates;

namespace Api.Students;

/// <summary>
/// Imports an uploaded student list in bounded memory. The file is read twice from the request's buffered copy:
/// first whole, to refuse a file that breaks its format or the limits before anything is stored; then in chunks
/// of <see cref="ChunkRows"/> rows, each chunk's students and the welcomes of the new ones committed together in
/// one transaction (with the outbox), so no student is ever stored without their welcome, and memory holds one
/// chunk, not the file.
/// </summary>
/// <remarks>
/// A crash between chunks leaves the chunks before it stored and welcomed; uploading the same file again
/// stores the rest and welcomes only the students it creates.
/// </remarks>
public sealed class StudentImport(
    IStudentStore students, ContactValidator contacts, StudentMessages messages, OutboxRelay relay,
    ApiCache cache, RecordCache records, IOptions<UploadLimits> limits)
{
    public const int ChunkRows = 500;

    /// <param name="open">Opens the file from its start; called twice.</param>
    /// <exception cref="UploadRejectedException">The file cannot be read as a student list; nothing is stored.</exception>
    public async Task<ImportTotals> RunAsync(Func<Stream> open, string? fileName, CancellationToken cancellationToken)
    {
        await using (var content = open())
        {
            var sheet = StudentSheet.Open(content, fileName, limits.Value);
            StudentColumns.Locate(sheet.Header);
            foreach (var _ in sheet.Rows)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        var totals = new ImportTotals();
        await using (var content = open())
        {
            var sheet = StudentSheet.Open(content, fileName, limits.Value);
            var rows = new StudentRows(StudentColumns.Locate(sheet.Header), contacts);
            foreach (var chunk in sheet.Rows.Chunk(ChunkRows))
            {
                var valid = rows.Check(chunk, totals.Rejected);
                // Past the first pass the import goes to the end, even if the caller has gone: stopping between
                // chunks would store part of a file that is valid.
                var counts = await students.UpsertManyAsync(valid, Welcome, CancellationToken.None);
                relay.Notify();
                totals.Add(counts, valid);
            }
        }

        if (totals.Imported + totals.Updated > 0)
        {
            await cache.InvalidateAsync(CacheKeys.StudentsList, CancellationToken.None);
        }
        if (totals.Updated > 0)
        {
            await records.StudentsChangedAsync();
        }
        return totals;
    }

    /// <summary>Only new students are welcomed: a list corrected and uploaded again weeks later greets no one again.</summary>
    private IReadOnlyList<PreparedTask> Welcome(Student student)
    {
        var model = new NotificationModel { StudentName = student.Name, Username = student.RollNumber };
        // One welcome per student and channel, whatever happens to the request.
        return messages.Prepare(TemplateNames.Welcome, model, student, $"welcome:{student.RollNumber}",
            new Correlation { BatchId = student.BatchId, StudentId = student.Id }, NotificationPriority.Bulk);
    }
}

/// <summary>What an import did, added up over its chunks.</summary>
public sealed class ImportTotals
{
    public int Imported { get; private set; }
    public int Updated { get; private set; }
    public int NotificationsQueued { get; private set; }
    public List<RowProblem> Rejected { get; } = [];

    /// <summary>The batches the stored rows name (one batch: the upload's status URL lists its notifications).</summary>
    public HashSet<string?> Batches { get; } = [];

    internal void Add(UpsertCounts counts, IReadOnlyList<StudentUpsert> stored)
    {
        Imported += counts.Inserted;
        Updated += counts.Updated;
        NotificationsQueued += counts.NotificationsStored;
        foreach (var row in stored)
        {
            Batches.Add(row.BatchId);
        }
    }
}
