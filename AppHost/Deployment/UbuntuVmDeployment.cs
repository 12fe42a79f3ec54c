using System.Text;
using Aspire.Hosting.Pipelines;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AppHost.Deployment;

/// <summary>A file of the VM deployment, relative to the output directory.</summary>
public sealed record GeneratedFile(string RelativePath, string Content, bool IsExecutable = false);

/// <summary>
/// Writes <c>deploy/ubuntu/</c> from the app model: systemd units, redis.conf, mongod.conf, the nginx site,
/// env templates, install/backup scripts, logrotate rules and a README with the memory budget.
/// Run it as a pipeline step:
/// <c>dotnet run --project AppHost -- --operation publish --step publish-ubuntu-vm --output-path ../deploy/ubuntu</c>
/// (a relative output path is relative to the AppHost directory).
/// </summary>
public static class UbuntuVmDeployment
{
    public const string StepName = "publish-ubuntu-vm";

    public const string Command =
        "dotnet run --project AppHost -- --operation publish --step " + StepName + " --output-path ../deploy/ubuntu";

    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false);

    public static IDistributedApplicationBuilder AddUbuntuVmDeployment(this IDistributedApplicationBuilder builder)
    {
#pragma warning disable ASPIREPIPELINES001 // pipeline steps are 13.x's way to add a publish target
        builder.Pipeline.AddStep(StepName, async context =>
        {
            var outputPath = context.Services.GetRequiredService<IOptions<PipelineOptions>>().Value.OutputPath
                ?? throw new InvalidOperationException($"Give --output-path, for example: {Command}");
            var files = await GenerateAsync(context.Model, context.ExecutionContext, context.CancellationToken).ConfigureAwait(false);
            var directory = await WriteAsync(files, outputPath, context.CancellationToken).ConfigureAwait(false);
            context.Logger.LogInformation("Wrote {Count} files of the Ubuntu VM deployment to {Directory}", files.Count, directory);
        });
#pragma warning restore ASPIREPIPELINES001
        return builder;
    }

    public static async Task<IReadOnlyList<GeneratedFile>> GenerateAsync(
        DistributedApplicationModel model, DistributedApplicationExecutionContext executionContext, CancellationToken cancellationToken)
    {
        var services = await VmService.ReadAllAsync(model, executionContext, cancellationToken).ConfigureAwait(false);
        var budget = VmMemoryBudget.For(services);
        if (!budget.Fits)
        {
            throw new InvalidOperationException(
                $"The limits add up to {budget.AllocatedMegabytes} MB, leaving {budget.SystemReserveMegabytes} MB of {VmMemoryBudget.TotalMegabytes} MB " +
                $"for the system; it needs at least {VmMemoryBudget.MinimumSystemReserveMegabytes} MB.");
        }

        List<GeneratedFile> files =
        [
            new("README.md", DeploymentReadme.Render(services, budget)),
            new("redis.conf", ConfigFiles.RedisConf()),
            new("mongod.conf", ConfigFiles.MongodConf()),
            new($"nginx/{UbuntuVmLayout.SystemName}.conf", ConfigFiles.NginxSite(services)),
            new($"logrotate/{UbuntuVmLayout.SystemName}", ConfigFiles.Logrotate()),
            new($"env/{UbuntuVmLayout.SharedEnvironmentFile}", EnvironmentFiles.Shared()),
            new($"env/{UbuntuVmLayout.BackupEnvironmentFile}", EnvironmentFiles.Backup()),
            .. services.Select(s => new GeneratedFile($"env/{s.EnvironmentFile}", EnvironmentFiles.ForService(s))),
            .. services.Select(s => new GeneratedFile($"systemd/{s.UnitName}", SystemdUnits.ForService(s))),
            new($"systemd/{UbuntuVmLayout.SystemName}-backup.service", SystemdUnits.BackupService()),
            new($"systemd/{UbuntuVmLayout.SystemName}-backup.timer", SystemdUnits.BackupTimer()),
            new("install.sh", Scripts.Install(services), IsExecutable: true),
            new("backup.sh", Scripts.Backup(), IsExecutable: true),
        ];
        return [.. files.Select(f => f with { Content = f.Content.ReplaceLineEndings("\n") }).OrderBy(f => f.RelativePath, StringComparer.Ordinal)];
    }

    /// <summary>Writes the files under <paramref name="outputPath"/>; returns the full path written to.</summary>
    public static async Task<string> WriteAsync(IEnumerable<GeneratedFile> files, string outputPath, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(outputPath);
        foreach (var file in files)
        {
            var path = Path.Combine(root, file.RelativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, file.Content, s_utf8, cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, file.IsExecutable
                    ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute
                    : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }
        }
        return root;
    }

    /// <summary>The first lines of every generated file, as comments.</summary>
    internal static string Header(string comment = "#") =>
        $"{comment} Generated from the AppHost's app model by: {Command}\n{comment} Edit the AppHost (AppHost/Deployment/), not this file.";
}
