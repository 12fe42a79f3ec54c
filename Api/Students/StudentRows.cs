using Api.Exports;
using Notifications.Stores;

namespace Api.Students;

/// <summary>
/// Checks an upload's rows, chunk after chunk: a row with a problem is reported as <c>{row, field, reason}</c>
/// and left out; a roll number is kept at its first row across the whole file, so a repeat in a later chunk
/// is reported too.
/// </summary>
public sealed class StudentRows(Dictionary<string, int> columns, ContactValidator contacts)
{
    private readonly Dictionary<string, int> _columns = columns;
    private readonly ContactValidator _contacts = contacts;
    private readonly int? _batchColumn = columns.TryGetValue(StudentColumns.Batch, out var batch) ? batch : null;
    private readonly Dictionary<string, int> _firstRowOfRoll = new(StringComparer.Ordinal);

    /// <summary>The rows of <paramref name="chunk"/> that may be stored; the others' problems are added to <paramref name="rejected"/>.</summary>
    public List<StudentUpsert> Check(IReadOnlyList<SheetRow> chunk, List<RowProblem> rejected)
    {
        var valid = new List<StudentUpsert>(chunk.Count);

        foreach (var row in chunk)
        {
            // A cell our own export escaped ('=...) reads back as what was stored, so export and upload round-trip.
            string? Cell(string column) => _columns[column] < row.Cells.Length ? SpreadsheetText.Unescape(row.Cells[_columns[column]]?.Trim()) : null;
            var problems = new List<RowProblem>();
            void Reject(string field, string reason, string? value) =>
                problems.Add(new RowProblem(row.Row, field, value is null ? reason : $"{reason} Value: {SpreadsheetText.Neutralize(value)}"));

            var name = Cell(StudentColumns.Name);
            if (string.IsNullOrEmpty(name))
            {
                Reject(StudentColumns.Name, "is required.", null);
            }
            else if (name.Length > FieldLimits.Name)
            {
                Reject(StudentColumns.Name, $"is longer than {FieldLimits.Name} characters.", null);
            }
            else if (IsFormula(name))
            {
                Reject(StudentColumns.Name, FormulaReason, name);
            }

            var rawEmail = Cell(StudentColumns.Email);
            var email = ContactValidator.NormalizeEmail(rawEmail, out var emailReason);
            if (email is null)
            {
                Reject(StudentColumns.Email, emailReason!, string.IsNullOrEmpty(rawEmail) ? null : rawEmail);
            }

            var rawPhone = Cell(StudentColumns.Phone);
            var phone = _contacts.NormalizePhone(rawPhone, out var phoneReason);
            if (phone is null)
            {
                Reject(StudentColumns.Phone, phoneReason!, string.IsNullOrEmpty(rawPhone) ? null : rawPhone);
            }

            var roll = Cell(StudentColumns.RollNumber);
            if (string.IsNullOrEmpty(roll))
            {
                Reject(StudentColumns.RollNumber, "is required.", null);
            }
            else if (roll.Length > FieldLimits.RollNumber)
            {
                Reject(StudentColumns.RollNumber, $"is longer than {FieldLimits.RollNumber} characters.", null);
            }
            else if (IsFormula(roll))
            {
                Reject(StudentColumns.RollNumber, FormulaReason, roll);
            }
            else if (_firstRowOfRoll.TryGetValue(roll, out var firstRow))
            {
                Reject(StudentColumns.RollNumber, $"repeats row {firstRow}.", roll);
            }

            // Unescaped like the other cells: an exported batch such as "-A" comes back as "'-A" and must upload as "-A".
            var batch = _batchColumn is { } batchColumn && batchColumn < row.Cells.Length ? SpreadsheetText.Unescape(row.Cells[batchColumn]?.Trim()) : null;
            if (batch is { Length: > FieldLimits.Id })
            {
                Reject(StudentColumns.Batch, $"is longer than {FieldLimits.Id} characters.", null);
            }
            else if (batch is not null && IsFormula(batch))
            {
                Reject(StudentColumns.Batch, FormulaReason, batch);
            }

            if (problems.Count > 0)
            {
                rejected.AddRange(problems);
                continue;
            }
            _firstRowOfRoll[roll!] = row.Row;
            valid.Add(new StudentUpsert(roll!, name!, email!, phone!, string.IsNullOrEmpty(batch) ? null : batch));
        }
        return valid;
    }

    private const string FormulaReason = "is a spreadsheet formula (it starts with '=' or '@'); type the value itself.";

    /// <summary>
    /// A name, roll number or batch never starts with '=' or '@': such a cell is a formula or a CSV-injection payload,
    /// and is not stored. Values starting with '+' or '-' (a batch "-A") are stored, and escaped wherever they are written out.
    /// </summary>
    private static bool IsFormula(string value) => value is ['=' or '@', ..];
}
