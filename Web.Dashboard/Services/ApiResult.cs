namespace Web.Dashboard.Services;

/// <summary>
/// What one call to the Api gave: a value, or an error to show in place of the data. The dashboard
/// never lets a failed call escape as an exception into a component.
/// </summary>
public sealed record ApiResult<T>
{
    private ApiResult(T? value, string? error, int? statusCode)
    {
        Value = value;
        Error = error;
        StatusCode = statusCode;
    }

    public T? Value { get; }

    public string? Error { get; }

    /// <summary>The Api's status code when it answered; null when it could not be reached.</summary>
    public int? StatusCode { get; }

    public bool Succeeded => Error is null;

    public static ApiResult<T> Ok(T value) => new(value, null, 200);

    public static ApiResult<T> Failed(string error, int? statusCode = null) => new(default, error, statusCode);
}
