using Api.Exports;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Notifications.Stores;

namespace Api.Tests.Exports;

public sealed class CsvDownloadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RecordsPushedIntoTheNextChunk_AreWrittenOnce()
    {
        // A listing sorted newest first that gains records at its top while it is read, as a form's
        // submissions do during an export: each new record pushes the rest one place down.
        var listing = Enumerable.Range(0, CsvDownload.ReadChunk + 10).Select(i => $"old-{i:D4}").ToList();
        var reads = 0;
        Task<Page<string>> ReadPage(PageRequest page, CancellationToken _)
        {
            if (reads++ > 0)
            {
                listing.InsertRange(0, ["new-1", "new-2", "new-3"]);
            }
            return Task.FromResult(new Page<string>([.. listing.Skip(page.Offset).Take(page.Limit)], listing.Count, page.Offset, page.Limit));
        }

        var csv = await RunAsync(CsvDownload.Create("listing.csv", ["id"], ReadPage, id => id, id => [id], Ct));

        var ids = csv.Split(["\r\n", "\n"], StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(Enumerable.Range(0, CsvDownload.ReadChunk + 10).Select(i => $"old-{i:D4}"), ids.Where(id => id.StartsWith("old-", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task FormulaLikeCells_AreEscaped_AndOthersAreNot()
    {
        string[] values = ["=1+2", "+919876543210", "-5", "@SUM(A1)", "\tindent", "plain", "a=b"];
        Task<Page<string>> ReadPage(PageRequest page, CancellationToken _) =>
            Task.FromResult(new Page<string>(page.Offset == 0 ? values : [], values.Length, page.Offset, page.Limit));

        var csv = await RunAsync(CsvDownload.Create("cells.csv", ["value"], ReadPage, v => v, v => [v], Ct));

        using var reader = CsvHelper.CsvReader.Create(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(csv)), new CsvHelper.CsvReaderOptions { HasHeader = true }, false);
        var cells = new List<string>();
        while (reader.Read())
        {
            cells.Add(reader.GetString(0)!);
        }
        Assert.Equal(["'=1+2", "'+919876543210", "'-5", "'@SUM(A1)", "'\tindent", "plain", "a=b"], cells);
    }

    private static async Task<string> RunAsync(IResult result)
    {
        var context = new DefaultHttpContext { RequestServices = new ServiceCollection().AddLogging().BuildServiceProvider() };
        using var body = new MemoryStream();
        context.Response.Body = body;
        await result.ExecuteAsync(context);
        Assert.StartsWith("text/csv", context.Response.ContentType, StringComparison.Ordinal);
        return System.Text.Encoding.UTF8.GetString(body.ToArray());
    }
}
