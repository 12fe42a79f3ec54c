using AppHost.Deployment;

namespace AppHost.Deployment.Tests;

/// <summary>
/// install.sh run for real, twice, with STAGING_ROOT (every file under a temporary root; packages,
/// users, ownership and systemctl left alone): what it writes, that a second run changes nothing
/// but keeps the operator's edits, and that the secrets it fills in agree across files.
/// </summary>
public sealed class InstallScriptTests
{
    [Fact]
    public async Task InstallScript_RunTwiceInAStagingRoot_IsIdempotent_KeepsEditedEnvFiles_AndWiresOneRedisPassword()
    {
        var root = Directory.CreateTempSubdirectory("deploy-install-root-").FullName;
        var appDir = Directory.CreateTempSubdirectory("deploy-install-app-").FullName;
        foreach (var (service, assembly) in new[] { ("api", "Api.dll"), ("notification-worker", "NotificationWorker.dll"), ("web-dashboard", "Web.Dashboard.dll") })
        {
            Directory.CreateDirectory(Path.Combine(appDir, service));
            await File.WriteAllTextAsync(Path.Combine(appDir, service, assembly), service, TestContext.Current.CancellationToken);
        }
        var install = Path.Combine(Repo.DeployDirectory, "install.sh");

        var first = await Tool.RunAsync("/bin/bash", [install, appDir], environment: new Dictionary<string, string>
        {
            ["STAGING_ROOT"] = root,
            ["PUBLIC_DOMAIN"] = "example.test",
        });
        Assert.True(first.ExitCode == 0, first.ToString());
        var afterFirst = Snapshot(root);

        var sharedEnv = Path.Combine(root, "etc/notification-pipeline/notification-pipeline.env");
        var edited = (await File.ReadAllTextAsync(sharedEnv, TestContext.Current.CancellationToken))
            .Replace("BREVO_API_KEY=__BREVO_API_KEY__", "BREVO_API_KEY=brevo-key-from-the-operator", StringComparison.Ordinal);
        await File.WriteAllTextAsync(sharedEnv, edited, TestContext.Current.CancellationToken);

        // The domain is remembered: the second run does not need it again.
        var second = await Tool.RunAsync("/bin/bash", [install, appDir], environment: new Dictionary<string, string> { ["STAGING_ROOT"] = root });
        Assert.True(second.ExitCode == 0, second.ToString());
        var afterSecond = Snapshot(root);

        Assert.Equal(afterFirst.Keys, afterSecond.Keys);
        var changed = afterFirst.Keys.Where(k => afterFirst[k] != afterSecond[k]).ToList();
        Assert.Equal(["etc/notification-pipeline/notification-pipeline.env"], changed);
        Assert.Contains("BREVO_API_KEY=brevo-key-from-the-operator\n", afterSecond["etc/notification-pipeline/notification-pipeline.env"], StringComparison.Ordinal);
        Assert.DoesNotContain("__BREVO_API_KEY__", second.Stdout, StringComparison.Ordinal);
        Assert.Contains("__BULKSMS_PASSWORD__", second.Stdout, StringComparison.Ordinal);

        string[] expected =
        [
            "etc/redis/redis.conf", "etc/mongod.conf", "etc/mongod.keyfile", "etc/nginx/sites-available/notification-pipeline.conf",
            "etc/logrotate.d/notification-pipeline", "usr/local/sbin/notification-pipeline-backup",
            "etc/systemd/system/notification-pipeline-api.service", "etc/systemd/system/notification-pipeline-backup.timer",
            "etc/notification-pipeline/api.env", "etc/notification-pipeline/backup.env",
            "etc/notification-pipeline/tls/fullchain.pem", "opt/notification-pipeline/web-dashboard/Web.Dashboard.dll",
        ];
        Assert.All(expected, path => Assert.Contains(path, afterSecond.Keys));
        Assert.True(File.Exists(Path.Combine(root, "etc/nginx/sites-enabled/notification-pipeline.conf")), "the site is enabled");
        foreach (var secret in UbuntuVmLayout.GeneratedSecrets.Append("PUBLIC_DOMAIN"))
        {
            Assert.DoesNotContain(afterSecond, file => file.Value.Contains($"__{secret}__", StringComparison.Ordinal));
        }
        Assert.Contains("server_name api.example.test;", afterSecond["etc/nginx/sites-available/notification-pipeline.conf"], StringComparison.Ordinal);

        // The replica set's key file: made on the first run only (unchanged above), mongod's alone, and a key mongod accepts
        // (6 to 1024 base64 characters; line breaks do not count).
        Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode(Path.Combine(root, "etc/mongod.keyfile")));
        var key = afterSecond["etc/mongod.keyfile"].Replace("\n", "", StringComparison.Ordinal);
        Assert.InRange(key.Length, 6, 1024);
        Assert.Matches("^[A-Za-z0-9+/=]+$", key);

        // The Redis it configured accepts the password the services were given, and the one backups use.
        var appPassword = EnvValue(afterSecond["etc/notification-pipeline/api.env"], "ConnectionStrings__redis")
            .Split(',').Single(p => p.StartsWith("password=", StringComparison.Ordinal))["password=".Length..];
        var opsPassword = EnvValue(afterSecond["etc/notification-pipeline/backup.env"], "REDISCLI_AUTH");
        await using var redis = await RedisUnderTest.StartAsync(Path.Combine(root, "etc/redis/redis.conf"));
        await using (var app = await redis.ConnectAsync(UbuntuVmLayout.RedisAppUser, appPassword))
        {
            Assert.Equal(1, await app.GetDatabase().ListLeftPushAsync("{q}:pending", "task"));
        }
        await using (var ops = await redis.ConnectAsync(UbuntuVmLayout.RedisOpsUser, opsPassword, allowAdmin: true))
        {
            Assert.NotEmpty(await ops.GetServer(redis.EndPoint).ConfigGetAsync("maxmemory"));
        }
    }

    private static Dictionary<string, string> Snapshot(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(path => !File.GetAttributes(path).HasFlag(FileAttributes.ReparsePoint))
            .ToDictionary(path => Path.GetRelativePath(root, path), path => File.ReadAllText(path));

    private static string EnvValue(string envFile, string name) =>
        envFile.Split('\n').Single(line => line.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];
}
