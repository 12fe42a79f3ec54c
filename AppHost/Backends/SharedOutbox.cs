namespace AppHost.Backends;

internal static class SharedOutbox
{
    /// <summary>
    /// The worker writes the default provider's outbox and the Api reads it, so in development both
    /// get one folder under the AppHost's data directory. A published model names no local folder:
    /// the deployment sets <c>Sending__Outbox__Directory</c> if it uses the outbox at all.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSharedOutbox(this IResourceBuilder<ProjectResource> project) =>
        project.ApplicationBuilder.ExecutionContext.IsRunMode
            ? project.WithEnvironment("Sending__Outbox__Directory", EmbeddedDataDirectory.Resolve(project.ApplicationBuilder, "outbox"))
            : project;
}
