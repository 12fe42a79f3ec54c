namespace Notifications.Stores;

/// <summary>Which slice of an ordered listing to return.</summary>
public sealed record PageRequest(int Offset = 0, int Limit = PageRequest.DefaultLimit)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    internal void Validate()
    {
        if (Offset < 0)
        {
            throw new InvalidFieldException("offset", "must not be negative.");
        }
        if (Limit is < 1 or > MaxLimit)
        {
            throw new InvalidFieldException("limit", $"must be between 1 and {MaxLimit}.");
        }
    }
}

/// <summary>One slice of a listing and the size of the whole listing.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, long Total, int Offset, int Limit);
