using System.Text;
using static AppHost.Deployment.UbuntuVmLayout;

namespace AppHost.Deployment;

/// <summary>deploy/ubuntu/README.md: how to install, and the memory budget table.</summary>
internal static class DeploymentReadme
{
    public static string Render(IReadOnlyList<VmService> services, MemoryBudget budget)
    {
        var table = new StringBuilder();
        table.Append("| component | MB | enforced by |\n|---|---:|---|\n");
        foreach (var line in budget.Lines)
        {
            table.Append($"| {line.Component} | {line.Megabytes} | {line.EnforcedBy} |\n");
        }
        table.Append($"| **all limits** | **{budget.AllocatedMegabytes}** | |\n");
        table.Append($"| system reserve | {budget.SystemReserveMegabytes} | the rest of {VmMemoryBudget.TotalMegabytes} MB: kernel, page cache, sshd, nginx, journald, Redis' fork during BGSAVE/AOF rewrite (at least {VmMemoryBudget.MinimumSystemReserveMegabytes}) |\n");

        var units = string.Join('\n', services.Select(s =>
            $"| `systemd/{s.UnitName}` | `{s.InstallDirectory}/{s.AssemblyName}.dll` on 127.0.0.1:{s.Port}{(s.IsExternal ? $", public as `{s.Name}.<domain>`" : "")} |"));
        var publish = string.Join('\n', services.Select(s =>
            $"dotnet publish {s.AssemblyName} -c Release -o out/{s.Name}"));

        return $$"""
            <!-- Generated from the AppHost's app model by: {{UbuntuVmDeployment.Command}} -->
            # Deployment: one Ubuntu VM (2 cores, 2 GB RAM, 16 GB SSD)

            Redis 7 and MongoDB on the same host as the services, each service a systemd unit behind nginx.
            Every file here is generated from the AppHost's app model; regenerate after changing it:

            ```bash
            {{UbuntuVmDeployment.Command}}
            ```

            A test (`Tests/AppHost.Deployment.Tests`) fails when these files differ from a fresh generation.

            ## Install

            ```bash
            # on your machine
            {{publish}}
            # copy deploy/ubuntu and out/ to the VM, then on the VM (Ubuntu 24.04, ASP.NET Core 10 runtime,
            # MongoDB Community 8.0 with mongosh and mongodb-database-tools from MongoDB's apt repository):
            sudo PUBLIC_DOMAIN=example.org ./install.sh ./out
            ```

            Ubuntu 24.04 because its `redis-server` is Redis 7.0; 22.04's is 6.0, which refuses this `redis.conf`
            (install.sh checks). Each service also gets a writable `/var/lib/{{SystemName}}/<service>` (systemd
            `StateDirectory`, also its `HOME`).

            `install.sh` is idempotent: run it again after each release or regeneration. It installs redis-server,
            nginx and logrotate if missing; creates the `{{ServiceUser}}` user; generates the internal secrets once
            ({{string.Join(", ", GeneratedSecrets.Select(s => $"`{s}`"))}}, kept in `{{SecretsDirectory}}`) and fills them into
            the installed files; copies the env templates to `{{ConfigDirectory}}` only if they are not there yet
            (your edits stay); initiates MongoDB's one-member replica set and creates the MongoDB users when `mongosh` is
            there (see MongoDB below); puts a self-signed certificate in
            `{{TlsDirectory}}` until you replace it; enables and restarts everything. It ends by listing the
            secrets still to fill in: {{string.Join(", ", OperatorSecrets.Select(s => $"`{s}`"))}} in
            `{{ConfigDirectory}}/{{SharedEnvironmentFile}}`.

            ## Files

            | file | installed as |
            |---|---|
            {{units}}
            | `systemd/{{SystemName}}-backup.service`, `.timer` | daily `backup.sh` at 02:30 |
            | `env/{{SharedEnvironmentFile}}` | `{{ConfigDirectory}}/{{SharedEnvironmentFile}}`: the old plan's variables, read by every unit |
            | `env/<service>.env` | `{{ConfigDirectory}}/<service>.env`: what the app model gives each service (connection strings, service URLs, limits) |
            | `env/{{BackupEnvironmentFile}}` | `{{ConfigDirectory}}/{{BackupEnvironmentFile}}` (root only): credentials for backups |
            | `redis.conf` | `/etc/redis/redis.conf` (Debian's original kept as `redis.conf.orig`) |
            | `mongod.conf` | `/etc/mongod.conf` (its replica set key file, `{{MongoKeyFile}}`, is generated once) |
            | `nginx/{{SystemName}}.conf` | `/etc/nginx/sites-available/`, enabled |
            | `logrotate/{{SystemName}}` | `/etc/logrotate.d/{{SystemName}}` |
            | `backup.sh` | `{{BackupCommand}}` |

            ## Memory budget

            The old plan's split: Redis {{VmMemoryBudget.RedisMaxMemoryMegabytes}} MB, the application (MongoDB and the three
            services) 1 GB, the system the rest. The numbers come from `AppHost/Deployment/VmMemoryBudget.cs`
            and the services' `WithUbuntuVmService(...)` in `AppHost/AppHost.cs`; generation fails if they
            leave the system less than {{VmMemoryBudget.MinimumSystemReserveMegabytes}} MB.

            {{table}}
            The .NET services run with workstation GC (`DOTNET_gcServer=0`) and a GC heap hard limit of
            {{VmMemoryBudget.GcHeapPercentOfMemoryMax}}% of their `MemoryMax`, so they collect before systemd would kill them;
            without dynamic PGO (`DOTNET_TieredPGO=0`: less JIT work and code memory on two cores) and with two glibc
            malloc arenas (`MALLOC_ARENA_MAX=2`).

            Alert thresholds (the old plan's): Redis memory above {{VmMemoryBudget.RedisMemoryAlertMegabytes}} MB, application memory
            above {{VmMemoryBudget.ApplicationMemoryAlertMegabytes}} MB, disk above {{VmMemoryBudget.DiskAlertGigabytes}} GB of {{VmMemoryBudget.DiskGigabytes}} GB, more than {{VmMemoryBudget.PendingQueueAlert}} pending notifications.

            ## Redis

            `maxmemory-policy noeviction`: the queue's keys must never be evicted; at the limit Redis refuses
            writes, so the Api cannot accept (202) a notification it could not keep. The default user is
            off; the services use `{{RedisAppUser}}`, backups and operators `{{RedisOpsUser}}`
            (`redis-cli --user {{RedisOpsUser}} --askpass`). AOF (fsync every second) plus RDB at 900/1, 300/10, 60/10000.

            ## MongoDB

            A one-member replica set, `{{MongoReplicaSet}}`: the services write each record and its notifications in one
            transaction, and MongoDB runs transactions only on a replica set (the services refuse a standalone server at
            start). Authorization is on, so the set needs the key file `{{MongoKeyFile}}` (mongod's only, mode 0400). The
            services connect with `replicaSet={{MongoReplicaSet}}`. Without `mongosh`, do what install.sh would, once mongod runs:
            `rs.initiate({ _id: "{{MongoReplicaSet}}", members: [{ _id: 0, host: "127.0.0.1:{{MongoPort}}" }] })` (the localhost
            exception allows it before the first user), wait until `rs.status()` shows this member PRIMARY, then create
            `{{MongoAdminUser}}` (role `root`) and `{{MongoAppUser}}` (`readWrite` on `{{MongoDatabase}}`) with the passwords in `{{SecretsDirectory}}`.

            ## Delivery receipts

            The Api takes the providers' receipts at `https://api.<domain>/api/webhooks/bulksms/<token>` (BulkSMS: set it
            as the status-report and inbound-message URL) and `https://api.<domain>/api/webhooks/brevo/<token>` (Brevo:
            a transactional webhook with delivered, soft and hard bounce, blocked, invalid, deferred, error, spam and
            unsubscribed). The tokens are generated secrets (`WEBHOOK_BULKSMS_TOKEN`, `WEBHOOK_BREVO_TOKEN`); install.sh
            prints where they are. An install from before these lines keeps its `{{SharedEnvironmentFile}}`: add
            `Webhooks__BulkSmsToken` and `Webhooks__BrevoToken` to it by hand (without them the webhooks answer 404).

            ## Backups

            `{{BackupCommand}}` (daily): Redis `BGSAVE` then a copy of `dump.rdb` once written, and `mongodump
            --gzip --archive`, into `{{BackupDirectory}}`; files older than 7 days are deleted. Log:
            `{{LogDirectory}}/backup.log`. Restore: stop Redis, copy an `.rdb` to `/var/lib/redis/dump.rdb`
            and move `appendonlydir` aside; `mongorestore --gzip --archive=<file>`.

            ## Operating

            ```bash
            systemctl status '{{SystemName}}-*'
            journalctl -u {{SystemName}}-api -f
            sudo systemctl start {{SystemName}}-backup.service   # a backup now
            ```

            """;
    }
}
