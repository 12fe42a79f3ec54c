namespace Notifications.Tasks;

/// <summary>
/// Task ids are ULIDs: 26 characters, unique without coordination (80 random bits per millisecond,
/// unlike the old plan's <c>task_{ms}</c>), and ordered by creation time, which gives the age of the
/// oldest pending task without reading its body.
/// </summary>
public static class TaskIds
{
    public static string New() => System.Ulid.NewUlid().ToString();

    public static bool TryGetCreatedAt(string id, out DateTimeOffset createdAt)
    {
        if (System.Ulid.TryParse(id, out var ulid))
        {
            createdAt = ulid.Time;
            return true;
        }
        createdAt = default;
        return false;
    }
}
