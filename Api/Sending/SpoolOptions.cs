using System.ComponentModel.DataAnnotations;

namespace Api.Sending;

/// <summary>The <c>Spool</c> section: where notifications wait on local disk while Redis is away.</summary>
public sealed class SpoolOptions
{
    public const string SectionName = "Spool";
    public const string DefaultDirectory = ".data/spool";
    public static readonly TimeSpan DefaultDrainInterval = TimeSpan.FromSeconds(1);

    /// <summary>Relative paths are under the content root.</summary>
    [Required]
    public string Directory { get; set; } = DefaultDirectory;

    /// <summary>How often the drainer looks for spooled files once Redis answers.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan DrainInterval { get; set; } = DefaultDrainInterval;
}
