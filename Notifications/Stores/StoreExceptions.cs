namespace Notifications.Stores;

/// <summary>
/// A store refused an operation because of what the caller asked for. Each subclass maps to one 4xx
/// status in the Api; anything else a store throws is a fault (5xx).
/// </summary>
public abstract class StoreException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>A record with the same unique key already exists (409 Conflict).</summary>
public sealed class DuplicateKeyException(string entity, string key, string value, Exception? innerException = null)
    : StoreException($"A {entity} with {key} '{value}' already exists.", innerException)
{
    public string Entity { get; } = entity;
    public string Key { get; } = key;
    public string Value { get; } = value;
}

/// <summary>No record has the given id (404 Not Found).</summary>
public sealed class NotFoundException(string entity, string id)
    : StoreException($"No {entity} has id '{id}'.")
{
    public string Entity { get; } = entity;
    public string Id { get; } = id;
}

/// <summary>A field is missing or malformed (400 Bad Request); nothing was written.</summary>
public class InvalidFieldException(string field, string reason)
    : StoreException($"{field}: {reason}")
{
    public string Field { get; } = field;
    public string Reason { get; } = reason;
}

/// <summary>A field is longer than its limit in <see cref="FieldLimits"/> (400 Bad Request); nothing was written.</summary>
public sealed class FieldTooLongException(string field, int maxLength, int actualLength)
    : InvalidFieldException(field, $"is {actualLength} characters long; at most {maxLength} are allowed.")
{
    public int MaxLength { get; } = maxLength;
    public int ActualLength { get; } = actualLength;
}
