using System.Diagnostics;

namespace Notifications.Stores;

/// <summary>
/// Spans for store operations. MongoDB's driver traces its own commands (source <c>MongoDB.Driver</c>);
/// SQLite has no instrumentation, so its stores open one span per operation here.
/// </summary>
internal static class StoreTelemetry
{
    public const string ActivitySourceName = "Notifications.Stores";
    private static readonly ActivitySource s_source = new(ActivitySourceName);

    public static Activity? StartSqlite(string operation)
    {
        var activity = s_source.StartActivity(operation, ActivityKind.Client);
        activity?.SetTag("db.system.name", "sqlite");
        activity?.SetTag("db.operation.name", operation);
        return activity;
    }
}
