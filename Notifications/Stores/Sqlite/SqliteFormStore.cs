using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Notifications.Stores.Sqlite;

internal sealed class SqliteFormStore(SqliteDocumentDatabase database, TimeProvider time) : IFormStore
{
    private const string Columns = "id, title, is_active, fields, created_at";
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public async Task<Form> CreateAsync(NewForm form, CancellationToken cancellationToken = default)
    {
        var input = StoreInput.Form(form);
        using var activity = StoreTelemetry.StartSqlite("forms.create");
        var created = new Form(input.Id!, input.Title, input.IsActive, input.Fields, FieldValidation.ToStoredPrecision(time.GetUtcNow()));
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        using var insert = connection.Command("INSERT INTO forms (id, title, is_active, fields, created_at) VALUES ($id, $title, $is_active, $fields, $created_at);")
            .With("$id", created.Id).With("$title", created.Title).With("$is_active", created.IsActive)
            .With("$fields", JsonSerializer.Serialize(created.Fields, s_json)).With("$created_at", created.CreatedAt.ToStored());
        try
        {
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex) when (ex.IsUniqueViolation())
        {
            throw new DuplicateKeyException("form", "id", created.Id, ex);
        }
        return created;
    }

    public async Task<IReadOnlyList<Form>> ListActiveAsync(CancellationToken cancellationToken = default)
    {
        using var activity = StoreTelemetry.StartSqlite("forms.list_active");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.Command($"SELECT {Columns} FROM forms WHERE is_active = 1 ORDER BY title, id;");
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Form> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var checkedId = StoreInput.Id(id);
        using var activity = StoreTelemetry.StartSqlite("forms.get");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.Command($"SELECT {Columns} FROM forms WHERE id = $id;").With("$id", checkedId);
        return (await ReadAllAsync(command, cancellationToken).ConfigureAwait(false)).SingleOrDefault()
            ?? throw new NotFoundException("form", checkedId);
    }

    private static async Task<List<Form>> ReadAllAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var forms = new List<Form>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var fields = JsonSerializer.Deserialize<List<FormField>>(reader.GetString(3), s_json) ?? [];
            forms.Add(new Form(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), fields, reader.GetTime(4)));
        }
        return forms;
    }
}
