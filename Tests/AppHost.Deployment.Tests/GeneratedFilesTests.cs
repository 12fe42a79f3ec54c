using System.Text.RegularExpressions;
using AppHost.Deployment;

namespace AppHost.Deployment.Tests;

/// <summary>What the generator writes, read as text: determinism, the committed copy, and changes flowing from the app model.</summary>
public sealed class GeneratedFilesTests
{
    [Fact]
    public async Task CommittedDeployUbuntu_EqualsAFreshGeneration()
    {
        var files = await AppModel.GenerateAsync();

        var committed = Directory.EnumerateFiles(Repo.DeployDirectory, "*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(Repo.DeployDirectory, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.Equal(files.Select(f => f.RelativePath), committed);
        foreach (var file in files)
        {
            var onDisk = await File.ReadAllTextAsync(Path.Combine(Repo.DeployDirectory, file.RelativePath), TestContext.Current.CancellationToken);
            Assert.True(file.Content == onDisk,
                $"deploy/ubuntu/{file.RelativePath} is stale: run `{UbuntuVmDeployment.Command}` and commit the result.");
        }
    }

    [Fact]
    public async Task Generation_TwiceFromFreshAppModels_IsByteIdentical_AndCarriesNoMachinePaths()
    {
        var first = await AppModel.GenerateAsync();
        var second = await AppModel.GenerateAsync();

        Assert.Equal(first.Select(f => f.RelativePath), second.Select(f => f.RelativePath));
        Assert.Equal(first.Select(f => f.Content), second.Select(f => f.Content));
        Assert.DoesNotContain(first, f => f.Content.Contains(Repo.Root, StringComparison.Ordinal));
        Assert.DoesNotContain(first, f => f.Content.Contains('\r', StringComparison.Ordinal));
    }

    [Fact]
    public async Task WriteAsync_WritesScriptsExecutable_AndTwiceGivesIdenticalBytes()
    {
        var files = await AppModel.GenerateAsync();
        var dir = Directory.CreateTempSubdirectory("deploy-write-").FullName;

        await UbuntuVmDeployment.WriteAsync(files, dir, TestContext.Current.CancellationToken);
        var firstBytes = files.Select(f => File.ReadAllBytes(Path.Combine(dir, f.RelativePath))).ToList();
        await UbuntuVmDeployment.WriteAsync(files, dir, TestContext.Current.CancellationToken);
        var secondBytes = files.Select(f => File.ReadAllBytes(Path.Combine(dir, f.RelativePath))).ToList();

        Assert.Equal(firstBytes, secondBytes);
        Assert.All(firstBytes, bytes => Assert.False(bytes is [0xEF, 0xBB, 0xBF, ..], "no BOM"));
        Assert.True(File.GetUnixFileMode(Path.Combine(dir, "install.sh")).HasFlag(UnixFileMode.UserExecute));
        Assert.True(File.GetUnixFileMode(Path.Combine(dir, "backup.sh")).HasFlag(UnixFileMode.UserExecute));
    }

    [Fact]
    public async Task ServiceMemoryMax_ChangedInTheAppModel_ShowsUpInUnitHeapLimitAndBudget()
    {
        var files = await AppModel.GenerateAsync(b => b.Project("notification-worker").WithUbuntuVmService(port: 8002, memoryMaxMegabytes: 320));

        var unit = files.File("systemd/notification-pipeline-notification-worker.service");
        Assert.Contains("MemoryMax=320M\n", unit, StringComparison.Ordinal);
        Assert.Contains("DOTNET_GCHeapHardLimit=0xF000000\n", unit, StringComparison.Ordinal); // 240 MB = 75%
        Assert.Contains("| notification-worker | 320 |", files.File("README.md"), StringComparison.Ordinal);
        Assert.Contains("MemoryMax=256M\n", files.File("systemd/notification-pipeline-api.service"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiUploadLimit_ChangedInTheAppModel_ShowsUpInNginxAndTheApiEnvironment()
    {
        var defaults = await AppModel.GenerateAsync();
        var changed = await AppModel.GenerateAsync(b => b.Project("api").WithRequestBodyLimit(35));

        Assert.Contains($"client_max_body_size {RequestLimits.ApiUploadMegabytes}m;", defaults.File("nginx/notification-pipeline.conf"), StringComparison.Ordinal);
        Assert.Contains("client_max_body_size 35m;", changed.File("nginx/notification-pipeline.conf"), StringComparison.Ordinal);
        Assert.Contains("Kestrel__Limits__MaxRequestBodySize=36700160\n", changed.File("env/api.env"), StringComparison.Ordinal);
        Assert.DoesNotContain("client_max_body_size 20m;", changed.File("nginx/notification-pipeline.conf"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiPort_ChangedInTheAppModel_ShowsUpInNginxUpstreamAndTheDashboardsServiceUrl()
    {
        var files = await AppModel.GenerateAsync(b => b.Project("api").WithUbuntuVmService(port: 9100, memoryMaxMegabytes: 256));

        Assert.Contains("server 127.0.0.1:9100;", files.File("nginx/notification-pipeline.conf"), StringComparison.Ordinal);
        Assert.Contains("services__api__http__0=http://127.0.0.1:9100\n", files.File("env/web-dashboard.env"), StringComparison.Ordinal);
        Assert.Contains("ASPNETCORE_URLS=http://127.0.0.1:9100\n", files.File("env/api.env"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Generation_Fails_WhenTheLimitsLeaveTooLittleForTheSystem()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            AppModel.GenerateAsync(b => b.Project("web-dashboard").WithUbuntuVmService(port: 8001, memoryMaxMegabytes: 900)));
        Assert.Contains("for the system", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnvTemplates_CarryEveryVariableOfTheOldPlan_AndTheOnesTheServicesRead()
    {
        var files = await AppModel.GenerateAsync();
        var names = files.Where(f => f.RelativePath.StartsWith("env/", StringComparison.Ordinal))
            .SelectMany(f => f.Content.Split('\n'))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line[..line.IndexOf('=', StringComparison.Ordinal)])
            .ToHashSet(StringComparer.Ordinal);

        string[] oldPlan =
        [
            "MONGODB_URI", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "JWT_SECRET_KEY",
            "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_REGION", "AWS_S3_BUCKET",
            "BREVO_API_KEY", "BULKSMS_USERNAME", "BULKSMS_PASSWORD", "PORT",
        ];
        string[] servicesRead = ["ConnectionStrings__redis", "ConnectionStrings__documents", "DocumentStore__Provider"];
        Assert.All(oldPlan.Concat(servicesRead), name => Assert.Contains(name, names));

        var api = files.File("env/api.env");
        Assert.Contains("DocumentStore__Provider=MongoDb\n", api, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings__redis=127.0.0.1:6379,user=notifications,password=__REDIS_APP_PASSWORD__", api, StringComparison.Ordinal);
        // Secrets stay placeholders; nothing like a real key is committed.
        var shared = files.File("env/notification-pipeline.env");
        foreach (var secret in UbuntuVmLayout.OperatorSecrets.Concat(["JWT_SECRET_KEY"]))
        {
            Assert.Contains($"{secret}=__{secret}__\n", shared, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task RedisConf_HasEachDirectiveOnce_AndTheRequiredSettings()
    {
        var conf = (await AppModel.GenerateAsync()).File("redis.conf");
        var directives = conf.Split('\n')
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split(' ', 2))
            .ToList();

        // `user` is the one directive Redis allows (and needs) once per ACL user.
        var repeated = directives.Where(d => d[0] != "user").GroupBy(d => d[0]).Where(g => g.Count() > 1).Select(g => g.Key);
        Assert.Empty(repeated);
        var settings = directives.Where(d => d[0] != "user").ToDictionary(d => d[0], d => d[1]);
        Assert.Equal("127.0.0.1 -::1", settings["bind"]);
        Assert.Equal("yes", settings["protected-mode"]);
        Assert.Equal($"{VmMemoryBudget.RedisMaxMemoryMegabytes}mb", settings["maxmemory"]);
        Assert.Equal("noeviction", settings["maxmemory-policy"]);
        Assert.Equal("900 1 300 10 60 10000", settings["save"]);
        Assert.DoesNotContain("appendonly-rewrite-percentage", settings.Keys);
        Assert.Contains(directives, d => d[0] == "user" && d[1].StartsWith("notifications on >__REDIS_APP_PASSWORD__ ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MongodConf_IsYaml_WithTheCacheCappedLoopbackBindAuthorizationAndAReplicaSet()
    {
        var yaml = (await AppModel.GenerateAsync()).File("mongod.conf");
        var root = (Dictionary<object, object>)new YamlDotNet.Serialization.Deserializer().Deserialize<object>(yaml);

        static object At(Dictionary<object, object> node, params string[] path) =>
            path[..^1].Aggregate(node, (n, key) => (Dictionary<object, object>)n[key])[path[^1]];

        Assert.Equal("0.25", At(root, "storage", "wiredTiger", "engineConfig", "cacheSizeGB"));
        Assert.Equal("127.0.0.1", At(root, "net", "bindIp"));
        Assert.Equal("enabled", At(root, "security", "authorization"));
        Assert.Equal("/var/lib/mongodb", At(root, "storage", "dbPath"));
        // The services' transactions need a replica set; with authorization on, mongod needs its key file too.
        Assert.Equal("rs0", At(root, "replication", "replSetName"));
        Assert.Equal(UbuntuVmLayout.MongoKeyFile, At(root, "security", "keyFile"));
        Assert.Equal(["net", "processManagement", "replication", "security", "storage", "systemLog"], root.Keys.Cast<string>().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task InstallScript_MakesTheKeyFileOnce_AndInitiatesTheReplicaSetBeforeTheFirstUser()
    {
        var install = (await AppModel.GenerateAsync()).File("install.sh");

        Assert.Contains("""[ -s "$root/etc/mongod.keyfile" ] || (umask 077 && openssl rand -base64 756 > "$root/etc/mongod.keyfile")""", install, StringComparison.Ordinal);
        Assert.Contains("chmod 0400 \"$root/etc/mongod.keyfile\"\n", install, StringComparison.Ordinal);

        // Only a member without a configuration is initiated; then the script waits for it to be primary, and only
        // then creates the first user (the localhost exception allows both, in this order).
        var restart = install.IndexOf("systemctl restart mongod", StringComparison.Ordinal);
        var unconfigured = install.IndexOf("if (!node.runCommand({ hello: 1 }).setName) {", StringComparison.Ordinal);
        var initiate = install.IndexOf("""replSetInitiate: { _id: "rs0", members: [{ _id: 0, host: "127.0.0.1:27017" }] }""", StringComparison.Ordinal);
        var primary = install.IndexOf("node.runCommand({ hello: 1 }).isWritablePrimary", StringComparison.Ordinal);
        var firstUser = install.IndexOf("""node.createUser({ user: "admin", pwd: process.env.ADMIN_PW, roles: ["root"] });""", StringComparison.Ordinal);
        var appUser = install.IndexOf("app.createUser({ user: \"notifications\"", StringComparison.Ordinal);
        Assert.All(new[] { restart, unconfigured, initiate, primary, firstUser, appUser }, index => Assert.True(index >= 0));
        Assert.True(restart < unconfigured && unconfigured < initiate && initiate < primary && primary < firstUser && firstUser < appUser,
            "restart mongod, initiate rs0 if unconfigured, wait for the primary, then the users");
        // mongosh reaches an uninitiated member only with a direct connection.
        Assert.DoesNotContain("mongodb://127.0.0.1:27017/admin\"", install, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServiceConnectionStrings_NameTheReplicaSet()
    {
        var files = await AppModel.GenerateAsync();
        const string uri = "mongodb://notifications:__MONGODB_APP_PASSWORD__@127.0.0.1:27017/suma_madam?authSource=suma_madam&replicaSet=rs0\n";

        Assert.Contains("ConnectionStrings__documents=" + uri, files.File("env/api.env"), StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings__documents=" + uri, files.File("env/notification-worker.env"), StringComparison.Ordinal);
        Assert.Contains("MONGODB_URI=" + uri, files.File("env/notification-pipeline.env"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("api", "Api.dll", "256M")]
    [InlineData("notification-worker", "NotificationWorker.dll", "192M")]
    [InlineData("web-dashboard", "Web.Dashboard.dll", "192M")]
    public async Task ServiceUnit_RunsAsTheServiceUser_AfterRedisAndMongo_WithEnvFilesRestartAndMemoryLimits(
        string service, string assembly, string memoryMax)
    {
        var unit = (await AppModel.GenerateAsync()).File($"systemd/notification-pipeline-{service}.service");

        string[] expected =
        [
            "User=notifications",
            $"WorkingDirectory=/opt/notification-pipeline/{service}",
            "EnvironmentFile=/etc/notification-pipeline/notification-pipeline.env",
            $"EnvironmentFile=/etc/notification-pipeline/{service}.env",
            $"ExecStart=/usr/bin/dotnet /opt/notification-pipeline/{service}/{assembly}",
            "Restart=always",
            $"MemoryMax={memoryMax}",
            "Environment=DOTNET_gcServer=0",
            "Environment=DOTNET_TieredPGO=0",
            "Environment=MALLOC_ARENA_MAX=2",
            "Wants=network-online.target redis-server.service mongod.service",
            "After=network-online.target redis-server.service mongod.service",
        ];
        var lines = unit.Split('\n');
        Assert.All(expected, line => Assert.Contains(line, lines));
        Assert.Matches(new Regex("^Environment=DOTNET_GCHeapHardLimit=0x[0-9A-F]+$", RegexOptions.Multiline), unit);
    }

    [Fact]
    public async Task NginxSite_ProxiesTheExternalServices_WithWebSocketUpgradeAndTlsPlaceholders()
    {
        var site = (await AppModel.GenerateAsync()).File("nginx/notification-pipeline.conf");

        Assert.Contains("server_name api.__PUBLIC_DOMAIN__;", site, StringComparison.Ordinal);
        Assert.Contains("server_name web-dashboard.__PUBLIC_DOMAIN__;", site, StringComparison.Ordinal);
        Assert.DoesNotContain("notification-worker.__PUBLIC_DOMAIN__", site, StringComparison.Ordinal); // not external
        Assert.Contains("proxy_set_header Upgrade $http_upgrade;", site, StringComparison.Ordinal);
        Assert.Contains("ssl_certificate /etc/notification-pipeline/tls/fullchain.pem;", site, StringComparison.Ordinal);
    }
}
