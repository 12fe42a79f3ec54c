using System.ComponentModel.DataAnnotations;

namespace Api.Students;

/// <summary>The <c>Upload</c> section: limits on a student list upload.</summary>
public sealed class UploadLimits
{
    public const string SectionName = "Upload";

    /// <summary>20 MB; the deployment's nginx <c>client_max_body_size</c> is set from this.</summary>
    public const long MaxFileBytes = 20 * 1024 * 1024;
    public const int DefaultMaxRows = 50_000;
    public const int DefaultMaxColumns = 30;

    [Range(1, 1024L * 1024 * 1024)]
    public long MaxBytes { get; set; } = MaxFileBytes;

    [Range(1, 1_000_000)]
    public int MaxRows { get; set; } = DefaultMaxRows;

    [Range(5, 1000)]
    public int MaxColumns { get; set; } = DefaultMaxColumns;
}

/// <summary>The <c>Validation</c> section.</summary>
public sealed class ValidationOptions
{
    public const string SectionName = "Validation";

    /// <summary>The region numbers without a country code are read in (CLDR code, e.g. IN).</summary>
    [Required, RegularExpression("^[A-Z]{2}$")]
    public string DefaultRegion { get; set; } = "IN";
}

/// <summary>The upload as a whole cannot be read (wrong type, malformed, wrong columns, too big).</summary>
public sealed class UploadRejectedException(string message, int statusCode = StatusCodes.Status400BadRequest) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}
