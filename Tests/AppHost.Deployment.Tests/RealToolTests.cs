using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AppHost.Deployment;
using StackExchange.Redis;

namespace AppHost.Deployment.Tests;

/// <summary>
/// The committed files of deploy/ubuntu against the real tools from apt: redis-server, nginx,
/// systemd-analyze, logrotate, bash. Machine paths (port, data directory, certificates) are
/// overridden on the command line or in a temporary copy; the directives under test are not.
/// </summary>
public sealed class RealToolTests
{
    private static string Committed(string relativePath) => Path.Combine(Repo.DeployDirectory, relativePath);

    [Fact]
    public async Task RedisConf_StartsRealRedisServer_AndConfigGetShowsItsValues()
    {
        await using var redis = await RedisUnderTest.StartAsync();
        await using var ops = await redis.ConnectAsync("ops", "__REDIS_OPS_PASSWORD__", allowAdmin: true);
        var server = ops.GetServer(redis.EndPoint);

        async Task<string> Get(string name) => (await server.ConfigGetAsync(name)).Single(p => p.Key == name).Value;

        Assert.Equal("536870912", await Get("maxmemory"));
        Assert.Equal("noeviction", await Get("maxmemory-policy"));
        Assert.Equal("yes", await Get("appendonly"));
        Assert.Equal("everysec", await Get("appendfsync"));
        Assert.Equal("900 1 300 10 60 10000", await Get("save"));
        Assert.Equal("100", await Get("auto-aof-rewrite-percentage"));
        Assert.Equal("67108864", await Get("auto-aof-rewrite-min-size"));
        Assert.Equal("yes", await Get("protected-mode"));
        Assert.Equal("127.0.0.1 -::1", await Get("bind"));
    }

    [Fact]
    public async Task RedisConf_AppUserCanAuthQueueAndRunScripts_ButNotReconfigure_AndDefaultUserIsOff()
    {
        await using var redis = await RedisUnderTest.StartAsync();
        await using var app = await redis.ConnectAsync(UbuntuVmLayout.RedisAppUser, "__REDIS_APP_PASSWORD__", allowAdmin: true);
        var db = app.GetDatabase();

        Assert.Equal(1, await db.ListLeftPushAsync("{q}:pending", "task-1"));
        Assert.Equal("task-1", (string?)await db.ScriptEvaluateAsync("return redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')",
            [new RedisKey("{q}:pending"), new RedisKey("{q}:processing")]));
        Assert.Contains("used_memory:", (string?)await db.ExecuteAsync("INFO", "memory"), StringComparison.Ordinal);
        var denied = await Assert.ThrowsAsync<RedisServerException>(() => app.GetServer(redis.EndPoint).ConfigGetAsync("maxmemory"));
        Assert.Contains("NOPERM", denied.Message, StringComparison.Ordinal);

        var anonymous = await Tool.RunAsync(Tool.Require("redis-cli"), ["-p", redis.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "PING"]);
        Assert.Contains("NOAUTH", anonymous.Stdout + anonymous.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BackupScript_CopiesTheRedisSnapshotAfterBgsave_AndDeletesFilesOlderThanSevenDays()
    {
        await using var redis = await RedisUnderTest.StartAsync();
        await using (var app = await redis.ConnectAsync(UbuntuVmLayout.RedisAppUser, "__REDIS_APP_PASSWORD__"))
        {
            await app.GetDatabase().StringSetAsync("backed-up", "yes");
        }
        var backups = Directory.CreateTempSubdirectory("deploy-backups-").FullName;
        var logs = Directory.CreateTempSubdirectory("deploy-logs-").FullName;
        var old = Path.Combine(backups, "redis-old.rdb");
        var recent = Path.Combine(backups, "mongodb-recent.archive.gz");
        await File.WriteAllTextAsync(old, "", TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(recent, "", TestContext.Current.CancellationToken);
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddDays(-8));
        File.SetLastWriteTimeUtc(recent, DateTime.UtcNow.AddDays(-6));

        var result = await Tool.RunAsync("/bin/bash", [Committed("backup.sh")], environment: new Dictionary<string, string>
        {
            ["BACKUP_DIR"] = backups,
            ["LOG_DIR"] = logs,
            ["REDIS_PORT"] = redis.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["REDIS_DIR"] = redis.DataDirectory,
            ["REDISCLI_AUTH"] = "__REDIS_OPS_PASSWORD__",
            ["MONGODB_BACKUP_URI"] = "mongodb://127.0.0.1:1/", // no MongoDB here: that half must fail loudly
        });

        var snapshot = Assert.Single(Directory.GetFiles(backups, "redis-2*.rdb"));
        Assert.StartsWith("REDIS", await File.ReadAllTextAsync(snapshot, TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.False(File.Exists(old), "the 8-day-old backup should be deleted");
        Assert.True(File.Exists(recent), "the 6-day-old backup should be kept");
        Assert.Equal(1, result.ExitCode); // the MongoDB half cannot succeed on this machine
        Assert.Contains("mongodb:", result.Stderr + result.Stdout, StringComparison.Ordinal);
        Assert.Contains("redis: ", await File.ReadAllTextAsync(Path.Combine(logs, "backup.log"), TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NginxSite_PassesNginxT_WithATemporarySelfSignedCertificateAtThePlaceholderPaths()
    {
        var nginx = Tool.Require("nginx");
        var dir = Directory.CreateTempSubdirectory("deploy-nginx-").FullName;
        using (var key = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllTextAsync(Path.Combine(dir, "fullchain.pem"), cert.ExportCertificatePem(), TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(Path.Combine(dir, "privkey.pem"), key.ExportPkcs8PrivateKeyPem(), TestContext.Current.CancellationToken);
        }
        var site = (await File.ReadAllTextAsync(Committed("nginx/notification-pipeline.conf"), TestContext.Current.CancellationToken))
            .Replace(UbuntuVmLayout.TlsDirectory + "/", dir + "/", StringComparison.Ordinal)
            .Replace("/var/log/nginx/", dir + "/", StringComparison.Ordinal);
        Assert.Contains("client_max_body_size 20m;", site, StringComparison.Ordinal);
        await File.WriteAllTextAsync(Path.Combine(dir, "site.conf"), site, TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(dir, "nginx.conf"), $$"""
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log;
            events {}
            http {
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                access_log {{dir}}/access.log;
                include {{dir}}/site.conf;
            }
            """, TestContext.Current.CancellationToken);

        var result = await Tool.RunAsync(nginx, ["-t", "-p", dir, "-c", Path.Combine(dir, "nginx.conf")]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("test is successful", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SystemdUnits_PassSystemdAnalyzeVerify_WithStubsForExecutablesNotInstalledHere()
    {
        var analyze = Tool.Require("systemd-analyze");
        var dir = Directory.CreateTempSubdirectory("deploy-systemd-").FullName;
        // verify checks that ExecStart exists. The backup script lands in /usr/local/sbin only on the VM
        // (and dotnet may live elsewhere on a build machine): a stub stands in for whatever is missing here.
        var stub = Path.Combine(dir, "stub");
        await File.WriteAllTextAsync(stub, "#!/bin/sh\n", TestContext.Current.CancellationToken);
        File.SetUnixFileMode(stub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var units = new List<string>();
        foreach (var path in Directory.GetFiles(Committed("systemd")).Order(StringComparer.Ordinal))
        {
            var lines = (await File.ReadAllLinesAsync(path, TestContext.Current.CancellationToken)).Select(line =>
            {
                if (!line.StartsWith("ExecStart=", StringComparison.Ordinal))
                {
                    return line;
                }
                var executable = line["ExecStart=".Length..].Split(' ')[0];
                return File.Exists(executable) ? line : line.Replace(executable, stub, StringComparison.Ordinal);
            });
            var copy = Path.Combine(dir, Path.GetFileName(path));
            await File.WriteAllLinesAsync(copy, lines, TestContext.Current.CancellationToken);
            units.Add(copy);
        }
        Assert.Equal(5, units.Count);

        var result = await Tool.RunAsync(analyze, ["verify", .. units], workingDirectory: dir);

        Assert.True(result.ExitCode == 0, result.ToString());
        // verify only warns (exit 0) on unknown keys or bad values: any line about our files is a failure.
        var aboutOurUnits = result.Stderr.Split('\n').Where(line => line.Contains(dir, StringComparison.Ordinal) || line.Contains("notification-pipeline", StringComparison.Ordinal));
        Assert.True(!aboutOurUnits.Any(), string.Join('\n', aboutOurUnits));
    }

    [Fact]
    public async Task LogrotateRules_PassLogrotateDebug()
    {
        var logrotate = Tool.Require("logrotate");
        var state = Path.Combine(Directory.CreateTempSubdirectory("deploy-logrotate-").FullName, "state");

        var result = await Tool.RunAsync(logrotate, ["--debug", "--state", state, Committed("logrotate/notification-pipeline")]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("error", result.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("install.sh")]
    [InlineData("backup.sh")]
    public async Task Script_PassesBashSyntaxCheck(string script)
    {
        var result = await Tool.RunAsync("/bin/bash", ["-n", Committed(script)]);
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}

/// <summary>A redis-server started from the committed redis.conf; only port, directory, log and pid file are overridden.</summary>
internal sealed class RedisUnderTest : IAsyncDisposable
{
    private readonly System.Diagnostics.Process _process;

    private RedisUnderTest(System.Diagnostics.Process process, int port, string dataDirectory)
    {
        _process = process;
        Port = port;
        DataDirectory = dataDirectory;
    }

    public int Port { get; }

    public string DataDirectory { get; }

    public System.Net.EndPoint EndPoint => new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, Port);

    public static async Task<RedisUnderTest> StartAsync(string? configFile = null)
    {
        var server = Tool.Require("redis-server");
        var port = Tool.FreeLoopbackPort();
        var dir = Directory.CreateTempSubdirectory("deploy-redis-").FullName;
        var info = new System.Diagnostics.ProcessStartInfo(server)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            configFile ?? Path.Combine(Repo.DeployDirectory, "redis.conf"),
            "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--dir", dir, "--logfile", "", "--pidfile", Path.Combine(dir, "redis.pid"), "--daemonize", "no",
        })
        {
            info.ArgumentList.Add(arg);
        }
        var process = System.Diagnostics.Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
            if (e.Data?.Contains("Ready to accept connections", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) =>
        {
            // Under the same lock as the appends: a StringBuilder read while another thread appends can throw,
            // and an exception in this handler ends the whole test run.
            string text;
            lock (output)
            {
                text = output.ToString();
            }
            ready.TrySetException(new Xunit.Sdk.XunitException("redis-server exited: " + text));
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var redis = new RedisUnderTest(process, port, dir);
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch
        {
            await redis.DisposeAsync();
            throw;
        }
        return redis;
    }

    public Task<ConnectionMultiplexer> ConnectAsync(string user, string password, bool allowAdmin = false) =>
        ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { EndPoint },
            User = user,
            Password = password,
            AllowAdmin = allowAdmin,
            AbortOnConnectFail = true,
        });

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
