using Microsoft.Data.Sqlite;
using Notifications.Tasks;

namespace Notifications.Stores.Sqlite;

/// <summary>The suppression list in <c>suppressions</c>, each change with its row in <c>suppression_audit</c> in one transaction.</summary>
internal sealed class SqliteSuppressionList(SqliteDocumentDatabase database, TimeProvider time) : ISuppressionList
{
    private const string Columns = "channel, address, reason, source, task_id, at";

    public async Task<bool> AddAsync(Suppression suppression, CancellationToken cancellationToken = default)
    {
        var input = StoreInput.Suppression(suppression);
        using var activity = StoreTelemetry.StartSqlite("suppressions.add");
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction();
        using var insert = connection.Command($"""
            INSERT INTO suppressions ({Columns}) VALUES ($channel, $address, $reason, $source, $task_id, $at)
            ON CONFLICT (channel, address) DO NOTHING;
            """, transaction)
            .With("$channel", input.Channel.ToString()).With("$address", input.Address).With("$reason", input.Reason)
            .With("$source", input.Source).With("$task_id", input.TaskId).With("$at", input.At.ToStored());
        if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
        {
            return false;
        }
        Audit(connection, transaction, new SuppressionAuditEntry(SuppressionAuditEntry.Added, input.Channel, input.Address, input.Reason,
            input.Source ?? "unknown", input.At));
        transaction.Commit();
        return true;
    }

    public async Task<Suppression?> FindAsync(NotificationType channel, string address, CancellationToken cancellationToken = default)
    {
        var checkedChannel = StoreInput.Channel(channel);
        var checkedAddress = StoreInput.SuppressionAddress(checkedChannel, address);
        using var activity = StoreTelemetry.StartSqlite("suppressions.find");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var select = connection.Command($"SELECT {Columns} FROM suppressions WHERE channel = $channel AND address = $address;")
            .With("$channel", checkedChannel.ToString()).With("$address", checkedAddress);
        return (await ReadAsync(select, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
    }

    public async Task<Page<Suppression>> ListAsync(string? search, PageRequest page, CancellationToken cancellationToken = default)
    {
        var term = StoreInput.Search(search);
        page.Validate();
        using var activity = StoreTelemetry.StartSqlite("suppressions.list");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction(deferred: true);
        // instr, not LIKE: a '%' or '_' in the search is a character, not a wildcard. Addresses are stored lower-case.
        const string Where = "WHERE $term IS NULL OR instr(address, $term) > 0";
        using var count = connection.Command($"SELECT count(*) FROM suppressions {Where};", transaction).With("$term", term);
        var total = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        using var select = connection.Command($"SELECT {Columns} FROM suppressions {Where} ORDER BY at DESC, address LIMIT $limit OFFSET $offset;", transaction)
            .With("$term", term).With("$limit", page.Limit).With("$offset", page.Offset);
        return new Page<Suppression>(await ReadAsync(select, cancellationToken).ConfigureAwait(false), total, page.Offset, page.Limit);
    }

    public async Task<Suppression> LiftAsync(NotificationType channel, string address, string actor, string? note, CancellationToken cancellationToken = default)
    {
        var checkedChannel = StoreInput.Channel(channel);
        var checkedAddress = StoreInput.SuppressionAddress(checkedChannel, address);
        var checkedActor = FieldValidation.Required(actor, "actor", FieldLimits.Actor);
        var checkedNote = FieldValidation.Optional(note, "note", FieldLimits.SuppressionReason);
        using var activity = StoreTelemetry.StartSqlite("suppressions.lift");
        await using var connection = await database.OpenForWritingAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction();
        using var delete = connection.Command($"DELETE FROM suppressions WHERE channel = $channel AND address = $address RETURNING {Columns};", transaction)
            .With("$channel", checkedChannel.ToString()).With("$address", checkedAddress);
        var lifted = (await ReadAsync(delete, cancellationToken).ConfigureAwait(false)).SingleOrDefault()
            ?? throw new NotFoundException("suppression", checkedAddress);
        Audit(connection, transaction, new SuppressionAuditEntry(SuppressionAuditEntry.Lifted, checkedChannel, checkedAddress, checkedNote,
            checkedActor, FieldValidation.ToStoredPrecision(time.GetUtcNow())));
        transaction.Commit();
        return lifted;
    }

    public async Task<Page<SuppressionAuditEntry>> ListAuditAsync(NotificationType? channel, string? address, PageRequest page,
        CancellationToken cancellationToken = default)
    {
        var (checkedChannel, checkedAddress) = StoreInput.AuditFilter(channel, address);
        page.Validate();
        using var activity = StoreTelemetry.StartSqlite("suppressions.audit");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var transaction = connection.BeginTransaction(deferred: true);
        const string Where = "WHERE ($channel IS NULL OR channel = $channel) AND ($address IS NULL OR address = $address)";
        void Bind(SqliteCommand command) => command.With("$channel", checkedChannel?.ToString()).With("$address", checkedAddress);
        using var count = connection.Command($"SELECT count(*) FROM suppression_audit {Where};", transaction);
        Bind(count);
        var total = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        using var select = connection.Command(
            $"SELECT action, channel, address, reason, actor, at FROM suppression_audit {Where} ORDER BY id DESC LIMIT $limit OFFSET $offset;", transaction)
            .With("$limit", page.Limit).With("$offset", page.Offset);
        Bind(select);
        var entries = new List<SuppressionAuditEntry>();
        using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            entries.Add(new SuppressionAuditEntry(reader.GetString(0), Enum.Parse<NotificationType>(reader.GetString(1)), reader.GetString(2),
                reader.GetNullableString(3), reader.GetString(4), reader.GetTime(5)));
        }
        return new Page<SuppressionAuditEntry>(entries, total, page.Offset, page.Limit);
    }

    private static void Audit(SqliteConnection connection, SqliteTransaction transaction, SuppressionAuditEntry entry)
    {
        using var insert = connection.Command("""
            INSERT INTO suppression_audit (action, channel, address, reason, actor, at) VALUES ($action, $channel, $address, $reason, $actor, $at);
            """, transaction)
            .With("$action", entry.Action).With("$channel", entry.Channel.ToString()).With("$address", entry.Address)
            .With("$reason", entry.Reason).With("$actor", entry.Actor).With("$at", entry.At.ToStored());
        insert.ExecuteNonQuery();
    }

    private static async Task<List<Suppression>> ReadAsync(SqliteCommand select, CancellationToken cancellationToken)
    {
        var items = new List<Suppression>();
        using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(new Suppression(Enum.Parse<NotificationType>(reader.GetString(0)), reader.GetString(1), reader.GetString(2), reader.GetTime(5))
            {
                Source = reader.GetNullableString(3),
                TaskId = reader.GetNullableString(4),
            });
        }
        return items;
    }
}
