using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using SQLitePCL;

namespace Notifications.Stores.Sqlite;

/// <summary>
/// The embedded system of record: one SQLite file that the Api and the worker processes open at once.
/// WAL lets readers run beside the one writer; writers take the lock up front (<c>BEGIN IMMEDIATE</c>)
/// and wait for each other through the busy timeout instead of failing; within one process they take
/// turns (<see cref="OpenForWritingAsync"/>).
/// </summary>
internal sealed class SqliteDocumentDatabase : IDocumentDatabase
{
    // 2: fewer delivery_tasks indexes (see SqliteSchema); 3: the notification outbox; 4: receipts, SMS usage
    // and suppressions. The script (and AddedColumns) move an older file there itself.
    private const int SchemaVersion = 4;

    private readonly string _connectionString;
    private readonly string _perConnectionPragmas;

    private readonly SemaphoreSlim _writeTurn = new(1, 1);

    // Pooled connections keep their native handle: the per-connection pragmas run once per handle, not
    // on every open (parsing them was a visible share of a small request's time).
    private readonly ConditionalWeakTable<sqlite3, object> _configuredHandles = [];

    public SqliteDocumentDatabase(IOptions<DocumentStoreOptions> options)
    {
        var settings = options.Value;
        var builder = new SqliteConnectionStringBuilder(settings.ConnectionString)
        {
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            ForeignKeys = true,
        };
        _connectionString = builder.ConnectionString;
        FilePath = builder.DataSource;
        // synchronous=NORMAL in WAL mode survives a process crash (kill -9) but may lose the last commits
        // on power loss, like MongoDB's default write concern between journal flushes; FULL would cost an
        // fsync per delivery-log event.
        _perConnectionPragmas = $"PRAGMA busy_timeout = {(int)settings.SqliteBusyTimeout.TotalMilliseconds}; PRAGMA synchronous = NORMAL;";
    }

    public DocumentStoreProvider Provider => DocumentStoreProvider.Sqlite;

    public string FilePath { get; }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            if (!_configuredHandles.TryGetValue(connection.Handle!, out _))
            {
                using var pragmas = connection.CreateCommand();
                pragmas.CommandText = _perConnectionPragmas;
                pragmas.ExecuteNonQuery();
                _configuredHandles.AddOrUpdate(connection.Handle!, this);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Opens a connection for a write, after this process's previous write has finished. SQLite
    /// takes one writer at a time; when writers of one process meet in its lock, the busy handler
    /// sleeps in steps of up to 100 ms and every request behind it stalls (seen as a p99 of 100 ms
    /// under 100 concurrent submissions). Taking turns here keeps them out of the lock; the other
    /// process (the Api and the worker share the file) still waits through busy_timeout. The turn
    /// passes on when the connection is disposed.
    /// </summary>
    public async Task<SqliteConnection> OpenForWritingAsync(CancellationToken cancellationToken)
    {
        await _writeTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
            connection.Disposed += (_, _) => _writeTurn.Release();
            return connection;
        }
        catch
        {
            _writeTurn.Release();
            throw;
        }
    }

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(FilePath)) is { Length: > 0 } directory)
        {
            Directory.CreateDirectory(directory);
        }
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using (var journal = connection.CreateCommand())
        {
            // Stored in the file: every later connection, from any process, uses WAL.
            journal.CommandText = "PRAGMA journal_mode = WAL;";
            journal.ExecuteNonQuery();
        }
        // BEGIN IMMEDIATE: two processes starting at once take turns, so only the first adds the columns.
        using var transaction = connection.BeginTransaction();
        foreach (var (table, column, definition) in SqliteSchema.AddedColumns)
        {
            // A table that is missing is made whole by the script; one without the column gets it.
            using var check = connection.Command("""
                SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $table),
                       (SELECT count(*) FROM pragma_table_info($table) WHERE name = $column);
                """, transaction).With("$table", table).With("$column", column);
            using var reader = check.ExecuteReader();
            reader.Read();
            var (tableExists, columnExists) = (reader.GetInt64(0) > 0, reader.GetInt64(1) > 0);
            reader.Close();
            if (tableExists && !columnExists)
            {
                using var alter = connection.Command($"ALTER TABLE {table} ADD COLUMN {column} {definition};", transaction);
                alter.ExecuteNonQuery();
            }
        }
        using var schema = connection.CreateCommand();
        schema.Transaction = transaction;
        schema.CommandText = SqliteSchema.Script + $"PRAGMA user_version = {SchemaVersion};";
        schema.ExecuteNonQuery();
        transaction.Commit();
    }

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1;";
        await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }
}
