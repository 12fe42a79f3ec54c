using System.Runtime.CompilerServices;
using CsvHelper;
using Notifications.Stores;

namespace Api.Exports;

/// <summary>
/// CSV downloads written with CsvHelper straight to the response. A cell that a spreadsheet would run
/// as a formula (<see cref="SpreadsheetText.FormulaStarts"/>: CSV injection) gets CsvHelper's escape, a
/// leading apostrophe, so Excel or LibreOffice shows it as text. Phone numbers in E.164 start with '+' and are
/// escaped too; an upload of the file reads them back all the same (libphonenumber skips the apostrophe).
/// </summary>
public static class CsvDownload
{
    public const string ContentType = "text/csv; charset=utf-8";

    /// <summary>How many records a listing reads from the store at a time while it streams.</summary>
    public const int ReadChunk = PageRequest.MaxLimit;

    private static readonly CsvWriterOptions s_options = new()
    {
        Injection = CsvInjection.Escape,
        InjectionCharacters = SpreadsheetText.FormulaStarts,
        InjectionEscape = SpreadsheetText.Escape,
    };

    /// <summary>
    /// A 200 response that streams <paramref name="header"/> and then one row per record of a paged store
    /// listing, read <see cref="ReadChunk"/> at a time (an export of 100,000 students never holds their
    /// records, only their ids). Each chunk is its own query, and records may be added meanwhile; nothing
    /// is ever deleted from these listings, so a record added before the current position can only push
    /// one already written into the next chunk, never make one skip: records whose id was written are
    /// dropped.
    /// </summary>
    public static IResult Create<T>(string fileName, IReadOnlyList<string> header,
        Func<PageRequest, CancellationToken, Task<Page<T>>> readPage, Func<T, string> idOf, Func<T, IReadOnlyList<string?>> toRow,
        CancellationToken cancellationToken) =>
        Create(fileName, header, RowsAsync(readPage, idOf, toRow, cancellationToken), cancellationToken);

    private static async IAsyncEnumerable<IReadOnlyList<string?>> RowsAsync<T>(Func<PageRequest, CancellationToken, Task<Page<T>>> readPage,
        Func<T, string> idOf, Func<T, IReadOnlyList<string?>> toRow, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var written = new HashSet<string>(StringComparer.Ordinal);
        for (var offset = 0; ; offset += ReadChunk)
        {
            var page = await readPage(new PageRequest(offset, ReadChunk), cancellationToken).ConfigureAwait(false);
            foreach (var record in page.Items)
            {
                if (written.Add(idOf(record)))
                {
                    yield return toRow(record);
                }
            }
            if (page.Items.Count < ReadChunk)
            {
                yield break;
            }
        }
    }

    private static IResult Create(string fileName, IReadOnlyList<string> header, IAsyncEnumerable<IReadOnlyList<string?>> rows,
        CancellationToken cancellationToken) =>
        TypedResults.Stream(async body =>
        {
            await using var csv = CsvWriter.Create(body, s_options, leaveOpen: true);
            foreach (var name in header)
            {
                csv.WriteField(name);
            }
            await csv.EndRecordAsync(cancellationToken).ConfigureAwait(false);
            await foreach (var row in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                foreach (var cell in row)
                {
                    csv.WriteField(cell ?? "");
                }
                await csv.EndRecordAsync(cancellationToken).ConfigureAwait(false);
            }
            await csv.FlushAsync(cancellationToken).ConfigureAwait(false);
        }, ContentType, fileName);
}
