using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Notifications.Stores.Sqlite;

internal static class SqliteExtensions
{
    private const int ConstraintError = 19;
    private const int ConstraintPrimaryKey = 1555;
    private const int ConstraintUnique = 2067;

    public static SqliteCommand Command(this SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    public static SqliteCommand With(this SqliteCommand command, string name, object? value)
    {
        command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    /// <summary>A list as one JSON parameter, read back with <c>json_each</c>: no limit on the number of ids.</summary>
    public static SqliteCommand WithJsonArray(this SqliteCommand command, string name, IEnumerable<string> values) =>
        command.With(name, JsonSerializer.Serialize(values));

    public static string? GetNullableString(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static DateTimeOffset GetTime(this SqliteDataReader reader, int ordinal) =>
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static long ToStored(this DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static bool IsUniqueViolation(this SqliteException exception) =>
        exception.SqliteErrorCode == ConstraintError
        && exception.SqliteExtendedErrorCode is ConstraintPrimaryKey or ConstraintUnique;

    public static async Task<bool> ExistsAsync(this SqliteConnection connection, string table, string id, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        using var command = connection.Command($"SELECT 1 FROM {table} WHERE id = $id;", transaction).With("$id", id);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }
}
