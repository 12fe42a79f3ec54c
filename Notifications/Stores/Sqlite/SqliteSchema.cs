namespace Notifications.Stores.Sqlite;

/// <summary>
/// Tables and indexes of the SQLite store. Times are Unix milliseconds (what BSON dates hold), so range
/// queries compare integers and both stores return the same instants.
/// </summary>
internal static class SqliteSchema
{
    public const string Script = """
        CREATE TABLE IF NOT EXISTS students (
            id TEXT PRIMARY KEY,
            roll_number TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            phone TEXT NOT NULL,
            batch_id TEXT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_students_batch_id ON students (batch_id, roll_number);

        CREATE TABLE IF NOT EXISTS forms (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            is_active INTEGER NOT NULL,
            fields TEXT NOT NULL,
            created_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_forms_is_active ON forms (is_active, title);

        CREATE TABLE IF NOT EXISTS form_submissions (
            id TEXT PRIMARY KEY,
            form_id TEXT NOT NULL REFERENCES forms (id),
            student_id TEXT NOT NULL,
            roll_number TEXT NOT NULL,
            answers TEXT NOT NULL,
            status TEXT NOT NULL,
            submitted_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_form_submissions_form ON form_submissions (form_id, submitted_at);

        CREATE TABLE IF NOT EXISTS batches (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_batches_created_at ON batches (created_at);

        -- rowid keeps the order students were added in.
        CREATE TABLE IF NOT EXISTS batch_students (
            batch_id TEXT NOT NULL REFERENCES batches (id),
            student_id TEXT NOT NULL REFERENCES students (id),
            UNIQUE (batch_id, student_id));

        CREATE TABLE IF NOT EXISTS delivery_tasks (
            task_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            channel TEXT NOT NULL,
            recipient TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            provider TEXT NULL,
            provider_message_id TEXT NULL,
            last_error TEXT NULL,
            batch_id TEXT NULL,
            submission_id TEXT NULL,
            student_id TEXT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            sms_parts INTEGER NULL,
            sms_encoding TEXT NULL,
            credit_cost REAL NULL);
        -- Every Queued event inserts into each of these, so there are as few as the reads need (schema 2):
        -- only batch notices have a batch, so the batch index leaves the rest out; pruning finds expired
        -- tasks through created_at (a task's updated_at is never before it), so updated_at has none.
        CREATE INDEX IF NOT EXISTS ix_delivery_tasks_recipient ON delivery_tasks (recipient, created_at);
        DROP INDEX IF EXISTS ix_delivery_tasks_batch;
        CREATE INDEX IF NOT EXISTS ix_delivery_tasks_batch_status ON delivery_tasks (batch_id, status) WHERE batch_id IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_delivery_tasks_status ON delivery_tasks (status, created_at);
        CREATE INDEX IF NOT EXISTS ix_delivery_tasks_created_at ON delivery_tasks (created_at);
        DROP INDEX IF EXISTS ix_delivery_tasks_updated_at;
        -- Receipts find their task by the provider's message id (schema 4); only sent tasks have one.
        CREATE INDEX IF NOT EXISTS ix_delivery_tasks_provider_message ON delivery_tasks (provider_message_id) WHERE provider_message_id IS NOT NULL;

        CREATE TABLE IF NOT EXISTS delivery_events (
            id INTEGER PRIMARY KEY,
            task_id TEXT NOT NULL,
            status TEXT NOT NULL,
            at INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            error TEXT NULL,
            provider_message_id TEXT NULL,
            receipt_id TEXT NULL);
        CREATE INDEX IF NOT EXISTS ix_delivery_events_task ON delivery_events (task_id, at, id);
        -- A provider's receipt is stored once however often it is delivered (schema 4).
        CREATE UNIQUE INDEX IF NOT EXISTS ux_delivery_events_receipt ON delivery_events (task_id, receipt_id) WHERE receipt_id IS NOT NULL;

        -- The suppression list and its audit trail (schema 4).
        CREATE TABLE IF NOT EXISTS suppressions (
            channel TEXT NOT NULL,
            address TEXT NOT NULL,
            reason TEXT NOT NULL,
            source TEXT NULL,
            task_id TEXT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (channel, address));
        CREATE INDEX IF NOT EXISTS ix_suppressions_at ON suppressions (at);
        CREATE TABLE IF NOT EXISTS suppression_audit (
            id INTEGER PRIMARY KEY,
            action TEXT NOT NULL,
            channel TEXT NOT NULL,
            address TEXT NOT NULL,
            reason TEXT NULL,
            actor TEXT NOT NULL,
            at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_suppression_audit_address ON suppression_audit (channel, address, id);

        -- The transactional outbox (schema 3): a row per notification not yet moved into the Redis queue.
        -- seq is the commit order (an INTEGER PRIMARY KEY keeps its values through VACUUM; a bare rowid may not).
        CREATE TABLE IF NOT EXISTS notification_outbox (
            seq INTEGER PRIMARY KEY,
            task_id TEXT NOT NULL UNIQUE,
            body BLOB NOT NULL,
            created_at INTEGER NOT NULL);

        """;

    /// <summary>
    /// Columns added to a table after it was first made (schema 4): <c>CREATE TABLE IF NOT EXISTS</c> leaves an
    /// existing table as it is, so a file from before gets them added, before <see cref="Script"/> indexes them.
    /// </summary>
    public static readonly IReadOnlyList<(string Table, string Column, string Definition)> AddedColumns =
    [
        ("delivery_tasks", "sms_parts", "INTEGER NULL"),
        ("delivery_tasks", "sms_encoding", "TEXT NULL"),
        ("delivery_tasks", "credit_cost", "REAL NULL"),
        ("delivery_events", "receipt_id", "TEXT NULL"),
    ];
}
