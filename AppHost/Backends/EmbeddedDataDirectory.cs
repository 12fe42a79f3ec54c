namespace AppHost.Backends;

/// <summary>Where the embedded backends keep their files: <c>Backends:EmbeddedDataDirectory</c>, relative to the AppHost.</summary>
internal static class EmbeddedDataDirectory
{
    public static string Resolve(IDistributedApplicationBuilder builder, string backend)
    {
        var configured = builder.Configuration["Backends:EmbeddedDataDirectory"] ?? ".data";
        var root = Path.IsPathRooted(configured) ? configured : Path.Combine(builder.AppHostDirectory, configured);
        var directory = Path.GetFullPath(Path.Combine(root, backend));
        Directory.CreateDirectory(directory);
        return directory;
    }
}
