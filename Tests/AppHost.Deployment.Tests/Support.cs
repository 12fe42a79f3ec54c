using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using AppHost.Deployment;
using Microsoft.Extensions.DependencyInjection;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace AppHost.Deployment.Tests;

/// <summary>Builds the real AppHost's app model in publish mode (nothing starts) and generates the VM deployment from it.</summary>
internal static class AppModel
{
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    public static async Task<IReadOnlyList<GeneratedFile>> GenerateAsync(
        Action<IDistributedApplicationTestingBuilder>? change = null)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            ["--operation", "publish", "--step", UbuntuVmDeployment.StepName], cts.Token);
        change?.Invoke(builder);
        await using var app = await builder.BuildAsync(cts.Token);
        var model = app.Services.GetRequiredService<DistributedApplicationModel>();
        var executionContext = app.Services.GetRequiredService<DistributedApplicationExecutionContext>();
        Assert.True(executionContext.IsPublishMode, "the AppHost should be in publish mode");
        return await UbuntuVmDeployment.GenerateAsync(model, executionContext, cts.Token);
    }

    public static string File(this IReadOnlyList<GeneratedFile> files, string relativePath) =>
        files.SingleOrDefault(f => f.RelativePath == relativePath)?.Content
        ?? throw new Xunit.Sdk.XunitException($"{relativePath} was not generated; generated: {string.Join(", ", files.Select(f => f.RelativePath))}");

    public static IResourceBuilder<ProjectResource> Project(this IDistributedApplicationTestingBuilder builder, string name) =>
        builder.CreateResourceBuilder<ProjectResource>(name);
}

internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string DeployDirectory => Path.Combine(Root, "deploy", "ubuntu");

    // The configuration these tests (and so the AppHost they reference) were built in: bin/<Configuration>/<tfm>/.
    public static string BuildConfiguration => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "aspire.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("aspire.sln not found above " + AppContext.BaseDirectory);
    }
}

internal sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

internal static class Tool
{
    public static string? Find(string name) =>
        new[] { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin" }
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(System.IO.File.Exists);

    public static string Require(string name) =>
        Find(name) ?? throw new Xunit.Sdk.XunitException($"{name} is not installed (apt-get install it; .ci/run does)");

    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> args,
        string? workingDirectory = null, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        using var process = Process.Start(info)!;
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"{fileName} {string.Join(' ', args)} did not finish");
        }
        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
