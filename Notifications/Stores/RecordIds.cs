using MongoDB.Bson;

namespace Notifications.Stores;

/// <summary>
/// New record ids. Both stores use ObjectId text, so ids look the same whichever store made them and
/// records can move from the SQLite file to MongoDB unchanged.
/// </summary>
public static class RecordIds
{
    public static string New() => ObjectId.GenerateNewId().ToString();
}
