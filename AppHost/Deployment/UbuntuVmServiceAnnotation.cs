namespace AppHost.Deployment;

/// <summary>How a project runs on the Ubuntu VM: its loopback port (nginx is the only way in) and its memory limit.</summary>
public sealed record UbuntuVmServiceAnnotation(int Port, int MemoryMaxMegabytes) : IResourceAnnotation;

public static class UbuntuVmResourceExtensions
{
    /// <summary>Kestrel reads this from configuration; nginx's <c>client_max_body_size</c> is generated from it.</summary>
    public const string RequestBodyLimitVariable = "Kestrel__Limits__MaxRequestBodySize";

    public static IResourceBuilder<ProjectResource> WithUbuntuVmService(
        this IResourceBuilder<ProjectResource> project, int port, int memoryMaxMegabytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(memoryMaxMegabytes, 64);
        return project.WithAnnotation(new UbuntuVmServiceAnnotation(port, memoryMaxMegabytes), ResourceAnnotationMutationBehavior.Replace);
    }

    /// <summary>The largest request body the service accepts: enforced by Kestrel in every environment and by nginx on the VM.</summary>
    public static IResourceBuilder<ProjectResource> WithRequestBodyLimit(this IResourceBuilder<ProjectResource> project, int megabytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(megabytes, 1);
        var bytes = (long)megabytes * 1024 * 1024;
        return project.WithEnvironment(RequestBodyLimitVariable, bytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>Request limits the AppHost gives the services.</summary>
public static class RequestLimits
{
    // Student lists (CSV/XLSX) are the largest uploads.
    public const int ApiUploadMegabytes = 20;
}
