using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Notifications.Stores.Sqlite;

/// <summary>
/// The statements one write may run inside a group commit. Commands are prepared once per group and
/// handed out again with their parameters cleared, so a hundred submissions in one group parse their
/// INSERT once.
/// </summary>
internal sealed class SqliteWriteGroup(SqliteConnection connection, SqliteTransaction transaction) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    public SqliteConnection Connection => connection;

    public SqliteTransaction Transaction => transaction;

    /// <summary>
    /// A command for <paramref name="sql"/> in the group's transaction, without parameters. It is the same
    /// command object every time for the same text: finish with it before asking for that text again.
    /// </summary>
    public SqliteCommand Command(string sql)
    {
        if (_commands.TryGetValue(sql, out var command))
        {
            command.Parameters.Clear();
            return command;
        }
        command = connection.Command(sql, transaction);
        _commands.Add(sql, command);
        return command;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }
        _commands.Clear();
    }
}

/// <summary>
/// Group commit for the small writes of one process (a form submission, a delivery-log event): writes
/// that arrive while a transaction is being committed wait for the next one and share it, so under load
/// a commit, a lock round and a statement parse serve many requests instead of one. Each write runs in
/// its own savepoint: one that throws is rolled back alone and its caller gets the exception; the others
/// commit. A caller's task completes only after the commit, so an answer given after it is durable.
/// </summary>
internal sealed class SqliteGroupCommit : IDisposable
{
    // Bounds the time one group holds SQLite's write lock (the worker process may be waiting for it).
    private const int MaxWritesPerGroup = 256;

    private readonly SqliteDocumentDatabase _database;
    private readonly Channel<PendingWrite> _pending = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;

    public SqliteGroupCommit(SqliteDocumentDatabase database)
    {
        _database = database;
        _writer = Task.Run(WriteGroupsAsync);
    }

    public Task<T> WriteAsync<T>(Func<SqliteWriteGroup, T> write, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new PendingWrite<T>(write, cancellationToken);
        if (!_pending.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(SqliteGroupCommit));
        }
        return pending.Completion.Task;
    }

    private async Task WriteGroupsAsync()
    {
        var group = new List<PendingWrite>(MaxWritesPerGroup);
        while (await _pending.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (group.Count < MaxWritesPerGroup && _pending.Reader.TryRead(out var next))
            {
                if (!next.IsCancelled)
                {
                    group.Add(next);
                }
            }
            if (group.Count > 0)
            {
                await CommitAsync(group).ConfigureAwait(false);
                group.Clear();
            }
        }
    }

    private async Task CommitAsync(List<PendingWrite> group)
    {
        try
        {
            await using var connection = await _database.OpenForWritingAsync(CancellationToken.None).ConfigureAwait(false);
            using var transaction = connection.BeginTransaction();
            using var writes = new SqliteWriteGroup(connection, transaction);
            foreach (var pending in group)
            {
                if (!pending.TryStart())
                {
                    continue;
                }
                writes.Command("SAVEPOINT group_write;").ExecuteNonQuery();
                if (pending.Run(writes))
                {
                    writes.Command("RELEASE group_write;").ExecuteNonQuery();
                }
                else
                {
                    writes.Command("ROLLBACK TO group_write; RELEASE group_write;").ExecuteNonQuery();
                }
            }
            transaction.Commit();
        }
        catch (Exception ex)
        {
            // Nothing of the group was committed: every write that had not failed on its own fails with the cause.
            foreach (var pending in group)
            {
                pending.Fail(ex);
            }
            return;
        }
        foreach (var pending in group)
        {
            pending.Complete();
        }
    }

    public void Dispose()
    {
        _pending.Writer.TryComplete();
        _writer.Wait(TimeSpan.FromSeconds(10));
    }

    private abstract class PendingWrite
    {
        public abstract bool IsCancelled { get; }

        /// <summary>Claims the write for its group; false when its caller gave up first (it is then not run).</summary>
        public abstract bool TryStart();

        /// <summary>Runs the write; false when it threw (its exception is kept for its caller).</summary>
        public abstract bool Run(SqliteWriteGroup writes);

        public abstract void Fail(Exception exception);

        public abstract void Complete();
    }

    private sealed class PendingWrite<T> : PendingWrite
    {
        private const int Waiting = 0, Started = 1, Cancelled = 2;

        private readonly Func<SqliteWriteGroup, T> _write;
        private readonly CancellationToken _cancellationToken;
        private readonly CancellationTokenRegistration _registration;
        private int _state;
        private T? _result;
        private Exception? _failure;

        public PendingWrite(Func<SqliteWriteGroup, T> write, CancellationToken cancellationToken)
        {
            _write = write;
            _cancellationToken = cancellationToken;
            // A caller that gives up while its write waits (the other process may hold SQLite's lock for a
            // while) is answered at once; a write already started is finished and committed regardless.
            _registration = cancellationToken.UnsafeRegister(static state => ((PendingWrite<T>)state!).CancelIfWaiting(), this);
        }

        // Continuations run on the thread pool, not on the writer loop that commits the next group.
        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool IsCancelled => Volatile.Read(ref _state) == Cancelled;

        public override bool TryStart() => Interlocked.CompareExchange(ref _state, Started, Waiting) == Waiting;

        public override bool Run(SqliteWriteGroup writes)
        {
            try
            {
                _result = _write(writes);
                return true;
            }
            catch (Exception ex)
            {
                _failure = ex;
                return false;
            }
        }

        public override void Fail(Exception exception)
        {
            _registration.Dispose();
            Completion.TrySetException(_failure ?? exception);
        }

        public override void Complete()
        {
            _registration.Dispose();
            if (_failure is null)
            {
                Completion.TrySetResult(_result!);
            }
            else
            {
                Completion.TrySetException(_failure);
            }
        }

        private void CancelIfWaiting()
        {
            if (Interlocked.CompareExchange(ref _state, Cancelled, Waiting) == Waiting)
            {
                Completion.TrySetCanceled(_cancellationToken);
            }
        }
    }
}
