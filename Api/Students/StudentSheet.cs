using System.IO.Compression;
using CsvHelper;
using MiniExcelLibs;

namespace Api.Students;

/// <summary>One data row of an uploaded sheet; <see cref="Row"/> is the row number a spreadsheet shows (the header is row 1).</summary>
public sealed record SheetRow(int Row, string?[] Cells);

/// <summary>The columns an upload must have, matched case-insensitively ignoring spaces and underscores.</summary>
public static class StudentColumns
{
    public const string Name = "name";
    public const string Email = "email";
    public const string Phone = "phone";
    public const string RollNumber = "roll number";
    public const string Batch = "batch";

    public static readonly string[] Required = [Name, Email, Phone, RollNumber];

    public static string Normalize(string? header) =>
        new([.. (header ?? "").Trim().ToLowerInvariant().Where(c => c is not (' ' or '_' or '-' or '.'))]);

    /// <summary>Column index per known column; alternate spellings the old sheets use are accepted.</summary>
    public static Dictionary<string, int> Locate(IReadOnlyList<string?> headers)
    {
        var aliases = new Dictionary<string, string>
        {
            ["name"] = Name, ["studentname"] = Name, ["fullname"] = Name,
            ["email"] = Email, ["emailaddress"] = Email, ["mail"] = Email,
            ["phone"] = Phone, ["phonenumber"] = Phone, ["mobile"] = Phone, ["mobilenumber"] = Phone,
            ["rollnumber"] = RollNumber, ["rollno"] = RollNumber, ["roll"] = RollNumber,
            ["batch"] = Batch, ["batchname"] = Batch, ["batchid"] = Batch,
        };
        var found = new Dictionary<string, int>();
        for (var i = 0; i < headers.Count; i++)
        {
            if (aliases.TryGetValue(Normalize(headers[i]), out var column))
            {
                if (!found.TryAdd(column, i))
                {
                    throw new UploadRejectedException($"The column '{column}' appears twice in the header.");
                }
            }
        }
        var missing = Required.Where(c => !found.ContainsKey(c)).ToList();
        if (missing.Count > 0)
        {
            throw new UploadRejectedException(
                $"The header must have the columns name, email, phone, roll number (and optionally batch); missing: {string.Join(", ", missing)}.");
        }
        return found;
    }
}

/// <summary>An opened sheet: its header, and its data rows read one by one as they are enumerated.</summary>
public sealed record OpenedSheet(IReadOnlyList<string?> Header, IEnumerable<SheetRow> Rows);

/// <summary>
/// Reads an uploaded CSV or XLSX (MiniExcel) as a stream of rows within the upload limits: memory does not grow
/// with the file. A file that breaks the limits or its format throws <see cref="UploadRejectedException"/> when
/// the offending row is reached.
/// </summary>
public static class StudentSheet
{
    private static readonly byte[] s_zipSignature = [0x50, 0x4B, 0x03, 0x04];

    /// <summary>
    /// The most a workbook may expand to when unzipped. A 50,000-row student list is about 10 MB of XML; a zip bomb
    /// (a few KB that inflate to gigabytes) is refused before any of it is inflated.
    /// </summary>
    public const long MaxExpandedXlsxBytes = 64L * 1024 * 1024;

    /// <summary>Reads the header; the rows follow as <see cref="OpenedSheet.Rows"/> is enumerated, once, while <paramref name="content"/> is open.</summary>
    public static OpenedSheet Open(Stream content, string? fileName, UploadLimits limits)
    {
        var isXlsx = LooksLikeXlsx(content, fileName);
        if (isXlsx)
        {
            CheckExpandedSize(content);
        }
        var rows = isXlsx ? ReadXlsx(content, limits) : ReadCsv(content, limits);
        // Each reader yields the header first.
        var enumerator = rows.GetEnumerator();
        var header = enumerator.MoveNext() ? enumerator.Current.Cells : [];
        if (header.Length == 0 || header.All(string.IsNullOrWhiteSpace))
        {
            enumerator.Dispose();
            throw new UploadRejectedException("The file is empty: it has no header row.");
        }
        return new OpenedSheet(header, Remaining(enumerator));
    }

    private static IEnumerable<SheetRow> Remaining(IEnumerator<SheetRow> enumerator)
    {
        using (enumerator)
        {
            while (enumerator.MoveNext())
            {
                yield return enumerator.Current;
            }
        }
    }

    private static bool LooksLikeXlsx(Stream content, string? fileName)
    {
        Span<byte> start = stackalloc byte[4];
        var read = content.ReadAtLeast(start, 4, throwOnEndOfStream: false);
        content.Position = 0;
        var zip = read == 4 && start.SequenceEqual(s_zipSignature);
        var extension = Path.GetExtension(fileName ?? "").ToLowerInvariant();
        if (extension == ".xlsx" && !zip)
        {
            throw new UploadRejectedException("The file is named .xlsx but is not an XLSX workbook.");
        }
        if (extension == ".xls")
        {
            throw new UploadRejectedException("Old .xls workbooks are not read; save the sheet as .xlsx or .csv.", StatusCodes.Status415UnsupportedMediaType);
        }
        return zip;
    }

    /// <summary>Refuses a workbook whose entries declare more than <see cref="MaxExpandedXlsxBytes"/> in all.</summary>
    private static void CheckExpandedSize(Stream content)
    {
        long expanded;
        try
        {
            using var zip = new ZipArchive(content, ZipArchiveMode.Read, leaveOpen: true);
            expanded = zip.Entries.Sum(e => e.Length);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A broken archive throws a variety of types (InvalidDataException, or a seek before the start of a short file).
            throw Unreadable(ex);
        }
        finally
        {
            content.Position = 0;
        }
        if (expanded > MaxExpandedXlsxBytes)
        {
            throw new UploadRejectedException(
                $"The workbook expands to {expanded / (1024 * 1024)} MB when unzipped; at most {MaxExpandedXlsxBytes / (1024 * 1024)} MB are read.",
                StatusCodes.Status413PayloadTooLarge);
        }
    }

    /// <summary>The header as row 1, then the data rows.</summary>
    private static IEnumerable<SheetRow> ReadCsv(Stream content, UploadLimits limits)
    {
        CsvReader reader;
        try
        {
            reader = CsvReader.Create(content, new CsvReaderOptions
            {
                HasHeader = true,
                MalformedData = CsvMalformedDataHandling.Throw,
                MaxRecordSize = 64 * 1024,
                TrimWhitespace = true,
            }, true);
        }
        catch (CsvFormatException ex)
        {
            throw new UploadRejectedException($"The CSV is malformed at row 1: {ex.Message}");
        }
        using (reader)
        {
            var header = reader.Headers.Select(h => (string?)h).ToArray();
            if (header.Length > limits.MaxColumns)
            {
                throw new UploadRejectedException($"The file has {header.Length} columns; at most {limits.MaxColumns} are allowed.");
            }
            CheckText(header, 1);
            yield return new SheetRow(1, header);
            // Counted here: the reader's own line number is not tracked (it costs on every row).
            var rowNumber = 1;
            while (ReadNext(reader, rowNumber))
            {
                rowNumber++;
                if (rowNumber - 1 > limits.MaxRows)
                {
                    throw new UploadRejectedException($"The file has more than {limits.MaxRows} rows.", StatusCodes.Status413PayloadTooLarge);
                }
                var count = Math.Min(reader.FieldCount, limits.MaxColumns);
                var cells = new string?[count];
                for (var i = 0; i < count; i++)
                {
                    cells[i] = reader.GetString(i);
                }
                CheckText(cells, rowNumber);
                yield return new SheetRow(rowNumber, cells);
            }
        }
    }

    private static bool ReadNext(CsvReader reader, int rowNumber)
    {
        try
        {
            return reader.Read();
        }
        catch (CsvFormatException ex)
        {
            throw new UploadRejectedException($"The CSV is malformed at row {rowNumber + 1}: {ex.Message}");
        }
    }

    /// <summary>
    /// The reader decodes UTF-8 leniently: bytes that are not UTF-8 (a sheet saved as ANSI or UTF-16) become U+FFFD,
    /// which would garble a student's name for good; a NUL means the file is not text at all.
    /// </summary>
    private static void CheckText(string?[] cells, int row)
    {
        foreach (var cell in cells)
        {
            if (cell is null)
            {
                continue;
            }
            if (cell.Contains('\0', StringComparison.Ordinal))
            {
                throw new UploadRejectedException(row == 1
                    ? "The header holds binary data: the file is not a CSV text file."
                    : $"Row {row} holds binary data: the file is not a CSV text file.");
            }
            if (cell.Contains('\uFFFD', StringComparison.Ordinal))
            {
                throw NotUtf8(row);
            }
        }
    }

    private static UploadRejectedException NotUtf8(int row) =>
        new($"Row {row} is not UTF-8 text: save the sheet as \"CSV UTF-8\" (a file saved as ANSI or UTF-16 would garble names).");

    /// <summary>The header as row 1, then the data rows that are not blank.</summary>
    private static IEnumerable<SheetRow> ReadXlsx(Stream content, UploadLimits limits)
    {
        using var rows = Query(content).GetEnumerator();
        var rowNumber = 0;
        var dataRows = 0;
        while (MoveNext(rows))
        {
            var row = rows.Current;
            rowNumber++;
            if (row.Count > limits.MaxColumns)
            {
                throw new UploadRejectedException($"The sheet has {row.Count} columns; at most {limits.MaxColumns} are allowed.");
            }
            var cells = row.Values.Select(CellText).ToArray();
            if (rowNumber == 1)
            {
                yield return new SheetRow(1, cells);
                continue;
            }
            if (cells.All(string.IsNullOrWhiteSpace))
            {
                // Blank rows are skipped, but not without end: a few KB of zip can hold millions of them.
                if (rowNumber - 1 - dataRows > limits.MaxRows)
                {
                    throw new UploadRejectedException($"The sheet has more than {limits.MaxRows} blank rows.", StatusCodes.Status413PayloadTooLarge);
                }
                continue;
            }
            if (++dataRows > limits.MaxRows)
            {
                throw new UploadRejectedException($"The sheet has more than {limits.MaxRows} rows.", StatusCodes.Status413PayloadTooLarge);
            }
            yield return new SheetRow(rowNumber, cells);
        }
    }

    private static IEnumerable<IDictionary<string, object?>> Query(Stream content)
    {
        try
        {
            return content.Query(useHeaderRow: false, excelType: ExcelType.XLSX).Cast<IDictionary<string, object?>>();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw Unreadable(ex);
        }
    }

    private static bool MoveNext(IEnumerator<IDictionary<string, object?>> rows)
    {
        try
        {
            return rows.MoveNext();
        }
        catch (Exception ex) when (ex is not UploadRejectedException and not OperationCanceledException)
        {
            throw Unreadable(ex);
        }
    }

    // MiniExcel throws a variety of types (zip, XML, format) on a broken workbook: all mean the same to the caller.
    private static UploadRejectedException Unreadable(Exception ex) => new($"The XLSX workbook cannot be read: {ex.Message}");

    private static string? CellText(object? value) => value switch
    {
        null => null,
        string text => text.Trim(),
        // Phone numbers typed into a sheet become numbers: 9876543210.0 must read back as 9876543210.
        double number when number == Math.Floor(number) && Math.Abs(number) < 1e15 => ((long)number).ToString(System.Globalization.CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}
