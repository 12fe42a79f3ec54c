using System.Text.Json;
using AppHost.Deployment;

namespace AppHost.Deployment.Tests;

/// <summary>The AppHost run as a process, the way the README says: azd's manifest and the VM publish step.</summary>
public sealed class ManifestPublishTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(3);

    private static Task<ProcessResult> RunAppHostAsync(params string[] args) =>
        Tool.RunAsync("dotnet",
            ["run", "--no-build", "-c", Repo.BuildConfiguration, "--project", Path.Combine(Repo.Root, "AppHost"), "--", .. args],
            workingDirectory: Repo.Root, timeout: s_timeout);

    [Fact]
    public async Task ManifestPublish_WritesAManifest_WithTheThreeProjectsAndTheirConnectionStrings()
    {
        var output = Directory.CreateTempSubdirectory("deploy-manifest-").FullName;
        var manifestPath = Path.Combine(output, "aspire-manifest.json");

        var result = await RunAppHostAsync("--publisher", "manifest", "--output-path", manifestPath);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(manifestPath, TestContext.Current.CancellationToken));
        var resources = manifest.RootElement.GetProperty("resources");
        foreach (var project in new[] { "api", "notification-worker", "web-dashboard" })
        {
            Assert.Equal("project.v0", resources.GetProperty(project).GetProperty("type").GetString());
        }
        var apiEnv = resources.GetProperty("api").GetProperty("env");
        Assert.Equal("{redis.connectionString}", apiEnv.GetProperty("ConnectionStrings__redis").GetString());
        Assert.Equal("{documents.connectionString}", apiEnv.GetProperty("ConnectionStrings__documents").GetString());
        Assert.Equal("MongoDb", apiEnv.GetProperty("DocumentStore__Provider").GetString());
    }

    [Fact]
    public async Task PublishUbuntuVmStep_RunAsDocumented_WritesTheSameFilesAsAreCommitted()
    {
        var output = Directory.CreateTempSubdirectory("deploy-step-").FullName;

        var result = await RunAppHostAsync("--operation", "publish", "--step", UbuntuVmDeployment.StepName, "--output-path", output);

        Assert.True(result.ExitCode == 0, result.ToString());
        var written = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(output, p)).Order(StringComparer.Ordinal).ToList();
        var committed = Directory.EnumerateFiles(Repo.DeployDirectory, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(Repo.DeployDirectory, p)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(committed, written);
        foreach (var file in written)
        {
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(Repo.DeployDirectory, file), TestContext.Current.CancellationToken), await File.ReadAllBytesAsync(Path.Combine(output, file), TestContext.Current.CancellationToken));
        }
    }

    [Fact]
    public async Task AzureYaml_DeploysTheAppHostProject_ThatPublishesTheManifest()
    {
        var yaml = await File.ReadAllTextAsync(Path.Combine(Repo.Root, "azure.yaml"), TestContext.Current.CancellationToken);
        var root = (Dictionary<object, object>)new YamlDotNet.Serialization.Deserializer().Deserialize<object>(yaml);
        var app = (Dictionary<object, object>)((Dictionary<object, object>)root["services"])["app"];

        Assert.Equal("dotnet", app["language"]);
        Assert.Equal("containerapp", app["host"]);
        Assert.True(File.Exists(Path.Combine(Repo.Root, (string)app["project"])), $"azure.yaml's project {app["project"]} is missing");
    }
}
