using static AppHost.Deployment.UbuntuVmLayout;

namespace AppHost.Deployment;

/// <summary>One unit per project of the app model, plus the daily backup's service and timer.</summary>
internal static class SystemdUnits
{
    public static string ForService(VmService service) => $$"""
        {{UbuntuVmDeployment.Header()}}
        [Unit]
        Description=Notification pipeline: {{service.Name}}
        # Wants= (not Requires=): a Redis or MongoDB restart must not stop the service; it reconnects.
        Wants=network-online.target redis-server.service mongod.service
        After=network-online.target redis-server.service mongod.service

        [Service]
        Type=exec
        User={{ServiceUser}}
        Group={{ServiceUser}}
        WorkingDirectory={{service.InstallDirectory}}
        EnvironmentFile={{ConfigDirectory}}/{{SharedEnvironmentFile}}
        EnvironmentFile={{ConfigDirectory}}/{{service.EnvironmentFile}}
        # 2 GB VM: workstation GC (one heap, not one per core) and a heap hard limit
        # of {{VmMemoryBudget.GcHeapPercentOfMemoryMax}}% of MemoryMax ({{service.GcHeapHardLimitMegabytes}} MB), so the GC collects before systemd kills.
        Environment=DOTNET_gcServer=0
        Environment=DOTNET_GCHeapHardLimit={{service.GcHeapHardLimitHex}}
        # No instrumented tier of JIT code (dynamic PGO): on 2 cores it cost the Api 30% more CPU per request and
        # a higher p99, and the instrumented copies take memory (bench/run.sh api, README "Benchmarks").
        Environment=DOTNET_TieredPGO=0
        # Two glibc malloc arenas, not eight per core: native allocations of many threads stay in a few MB.
        Environment=MALLOC_ARENA_MAX=2
        Environment=DOTNET_CLI_TELEMETRY_OPTOUT=1
        # A writable directory of its own (/var/lib/{{SystemName}}/{{service.Name}}, $STATE_DIRECTORY) for local
        # spools; as HOME it also keeps ASP.NET Core's data-protection keys across restarts.
        StateDirectory={{SystemName}}/{{service.Name}}
        Environment=HOME=/var/lib/{{SystemName}}/{{service.Name}}
        ExecStart={{DotnetPath}} {{service.InstallDirectory}}/{{service.AssemblyName}}.dll
        Restart=always
        RestartSec=5
        TimeoutStopSec=30
        MemoryMax={{service.MemoryMaxMegabytes}}M
        SyslogIdentifier={{SystemName}}-{{service.Name}}
        NoNewPrivileges=yes
        PrivateTmp=yes
        ProtectSystem=full
        ProtectHome=yes

        [Install]
        WantedBy=multi-user.target

        """;

    public static string BackupService() => $$"""
        {{UbuntuVmDeployment.Header()}}
        [Unit]
        Description=Notification pipeline: Redis and MongoDB backup
        Wants=redis-server.service mongod.service
        After=redis-server.service mongod.service

        [Service]
        Type=oneshot
        EnvironmentFile={{ConfigDirectory}}/{{BackupEnvironmentFile}}
        ExecStart={{BackupCommand}}
        Nice=10
        IOSchedulingClass=idle

        """;

    public static string BackupTimer() => $$"""
        {{UbuntuVmDeployment.Header()}}
        [Unit]
        Description=Notification pipeline: daily backup

        [Timer]
        OnCalendar=*-*-* 02:30:00
        RandomizedDelaySec=15min
        Persistent=true

        [Install]
        WantedBy=timers.target

        """;
}
