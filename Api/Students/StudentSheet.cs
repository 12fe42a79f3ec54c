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

/// <summary>Reads an uploaded CSV (CsvHelper) or XLSX (MiniExcel) into a header and rows, within the upload limits.</summary>
public static class StudentSheet
{
    private static readonly byte[] s_zipSignature = [0x50, 0x4B, 0x03, 0x04];

    public static (IReadOnlyList<string?> Header, IReadOnlyList<SheetRow> Rows) Read(Stream content, string? fileName, UploadLimits limits)
    {
        var isXlsx = LooksLikeXlsx(content, fileName);
        var (header, rows) = isXlsx ? ReadXlsx(content, limits) : ReadCsv(content, limits);
        if (header.Count == 0 || header.All(string.IsNullOrWhiteSpace))
        {
            throw new UploadRejectedException("The file is empty: it has no header row.");
        }
        return (header, rows);
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

    private static (IReadOnlyList<string?>, IReadOnlyList<SheetRow>) ReadCsv(Stream content, UploadLimits limits)
    {
        var rows = new List<SheetRow>();
        // Counted here: the reader's own line number is not tracked (it costs on every row).
        var rowNumber = 1;
        try
        {
            using var reader = CsvReader.Create(content, new CsvReaderOptions
            {
                HasHeader = true,
                MalformedData = CsvMalformedDataHandling.Throw,
                MaxRecordSize = 64 * 1024,
                TrimWhitespace = true,
            }, true);
            var header = reader.Headers.Select(h => (string?)h).ToList();
            if (header.Count > limits.MaxColumns)
            {
                throw new UploadRejectedException($"The file has {header.Count} columns; at most {limits.MaxColumns} are allowed.");
            }
            while (reader.Read())
            {
                rowNumber++;
                if (rows.Count >= limits.MaxRows)
                {
                    throw new UploadRejectedException($"The file has more than {limits.MaxRows} rows.", StatusCodes.Status413PayloadTooLarge);
                }
                var count = Math.Min(reader.FieldCount, limits.MaxColumns);
                var cells = new string?[count];
                for (var i = 0; i < count; i++)
                {
                    cells[i] = reader.GetString(i);
                }
                if (cells.Any(c => c?.Contains('\0', StringComparison.Ordinal) == true))
                {
                    throw new UploadRejectedException($"Row {rowNumber} holds binary data: the file is not a CSV text file.");
                }
                rows.Add(new SheetRow(rowNumber, cells));
            }
            if (header.Any(h => h?.Contains('\0', StringComparison.Ordinal) == true))
            {
                throw new UploadRejectedException("The header holds binary data: the file is not a CSV text file.");
            }
            return (header, rows);
        }
        catch (CsvFormatException ex)
        {
            throw new UploadRejectedException($"The CSV is malformed at row {rowNumber + 1}: {ex.Message}");
        }
    }

    private static (IReadOnlyList<string?>, IReadOnlyList<SheetRow>) ReadXlsx(Stream content, UploadLimits limits)
    {
        try
        {
            var header = new List<string?>();
            var rows = new List<SheetRow>();
            var rowNumber = 0;
            foreach (IDictionary<string, object?> row in content.Query(useHeaderRow: false, excelType: ExcelType.XLSX))
            {
                rowNumber++;
                if (row.Count > limits.MaxColumns)
                {
                    throw new UploadRejectedException($"The sheet has {row.Count} columns; at most {limits.MaxColumns} are allowed.");
                }
                var cells = row.Values.Select(CellText).ToArray();
                if (rowNumber == 1)
                {
                    header.AddRange(cells);
                    continue;
                }
                if (cells.All(string.IsNullOrWhiteSpace))
                {
                    continue;
                }
                if (rows.Count >= limits.MaxRows)
                {
                    throw new UploadRejectedException($"The sheet has more than {limits.MaxRows} rows.", StatusCodes.Status413PayloadTooLarge);
                }
                rows.Add(new SheetRow(rowNumber, cells));
            }
            return (header, rows);
        }
        catch (Exception ex) when (ex is not UploadRejectedException and not OperationCanceledException)
        {
            // MiniExcel throws a variety of types (zip, XML, format) on a broken workbook: all mean the same to the caller.
            throw new UploadRejectedException($"The XLSX workbook cannot be read: {ex.Message}");
        }
    }

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
