namespace Notifications.Testing;

/// <summary>Finds this repository and the build output of its projects, from the running program's own folder.</summary>
public static class RepositoryBuild
{
    /// <summary>The folder that holds <c>aspire.sln</c>.</summary>
    public static string Root()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "aspire.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"No aspire.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>
    /// The assembly of <paramref name="project"/> built as this program was (Debug or Release, from its
    /// <c>bin/&lt;configuration&gt;/&lt;framework&gt;/</c> folder), or in the configuration given.
    /// </summary>
    public static string Assembly(string project, string? configuration = null)
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory);
        var path = Path.Combine(Root(), project, "bin", configuration ?? output.Parent!.Name, output.Name, project + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build {project} first.", path);
    }
}
