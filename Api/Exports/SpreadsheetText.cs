namespace Api.Exports;

/// <summary>
/// Values that a spreadsheet would run as a formula (CSV injection) get a leading apostrophe wherever
/// this Api shows uploaded data again: the row report of an upload through <see cref="Neutralize"/>,
/// CSV exports through CsvHelper's own escape, configured with the same characters and apostrophe
/// (see <see cref="CsvDownload"/>). An upload reads an escaped cell back with <see cref="Unescape"/>.
/// </summary>
public static class SpreadsheetText
{
    /// <summary>OWASP's list: a cell starting with one of these may run as a formula.</summary>
    public const string FormulaStarts = "=+-@\t\r";

    public const char Escape = '\'';

    public static string Neutralize(string value) =>
        IsFormulaLike(value) ? Escape + value : value;

    /// <summary>The value before <see cref="Neutralize"/>: an apostrophe in front of a formula-like value is dropped.</summary>
    public static string? Unescape(string? value) =>
        value is { Length: > 1 } && value[0] == Escape && IsFormulaLike(value[1..]) ? value[1..] : value;

    private static bool IsFormulaLike(string value) => value.Length > 0 && FormulaStarts.Contains(value[0], StringComparison.Ordinal);
}
