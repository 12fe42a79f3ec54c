using System.Globalization;
using System.Text;
using static AppHost.Deployment.UbuntuVmLayout;

namespace AppHost.Deployment;

/// <summary>redis.conf, mongod.conf, the nginx site and the logrotate rules.</summary>
internal static class ConfigFiles
{
    public static string RedisConf() => $$"""
        {{UbuntuVmDeployment.Header()}}
        # Redis 7 for the notification queue and the response cache. Every directive appears once (`user`
        # once per ACL user). Redis refuses to start on an unknown directive: the old plan's appendonly-rewrite-* were such.
        # Debian's redis-server.service starts it with --supervised systemd --daemonize no.

        # Network: loopback only. Protected mode refuses outside clients even if bind is widened by mistake.
        bind 127.0.0.1 -::1
        protected-mode yes
        port {{RedisPort}}
        tcp-backlog 511
        timeout 0
        tcp-keepalive 300

        daemonize no
        pidfile /run/redis/redis-server.pid
        loglevel notice
        logfile /var/log/redis/redis-server.log
        databases 16

        # Access control: no anonymous default user. The services use '{{RedisAppUser}}' (no CONFIG, ACL,
        # SHUTDOWN, KEYS or FLUSHALL); backups and operators use '{{RedisOpsUser}}'. install.sh fills in the passwords.
        user default off
        user {{RedisAppUser}} on >{{Placeholder("REDIS_APP_PASSWORD")}} ~* &* +@all -@admin -@dangerous +info
        user {{RedisOpsUser}} on >{{Placeholder("REDIS_OPS_PASSWORD")}} ~* &* +@all

        # Memory: {{VmMemoryBudget.RedisMaxMemoryMegabytes}} MB of the 2 GB VM (see README.md).
        # noeviction: this instance holds the notification queue, whose keys must never be evicted
        # (allkeys-lru would silently drop queued notifications under memory pressure). At the limit,
        # writes fail with OOM: the Api cannot enqueue and must not answer 202, and nothing already accepted is lost.
        # Cache keys carry TTLs, so they expire on their own.
        maxmemory {{VmMemoryBudget.RedisMaxMemoryMegabytes}}mb
        maxmemory-policy noeviction

        # Persistence: the append-only file, fsynced every second, is what keeps queued notifications
        # across restarts; RDB snapshots at the old plan's save points feed backup.sh.
        dir /var/lib/redis
        dbfilename dump.rdb
        save 900 1 300 10 60 10000
        stop-writes-on-bgsave-error yes
        rdbcompression yes
        appendonly yes
        appenddirname "appendonlydir"
        appendfilename "appendonly.aof"
        appendfsync everysec
        no-appendfsync-on-rewrite no
        auto-aof-rewrite-percentage 100
        auto-aof-rewrite-min-size 64mb
        aof-use-rdb-preamble yes

        slowlog-log-slower-than 10000
        slowlog-max-len 128

        """;

    public static string MongodConf() => $$"""
        {{UbuntuVmDeployment.Header()}}
        # MongoDB, the system of record. The WiredTiger cache is capped at {{VmMemoryBudget.MongoWiredTigerCacheMegabytes}} MB
        # (its default, half of RAM minus 1 GB, would be 512 MB here and crowd out the services).
        storage:
          dbPath: /var/lib/mongodb
          wiredTiger:
            engineConfig:
              cacheSizeGB: {{VmMemoryBudget.MongoCacheSizeGigabytes}}
        systemLog:
          destination: file
          logAppend: true
          path: /var/log/mongodb/mongod.log
          # logrotate renames the file and sends SIGUSR1; mongod then reopens it.
          logRotate: reopen
        net:
          port: {{MongoPort}}
          bindIp: 127.0.0.1
        processManagement:
          timeZoneInfo: /usr/share/zoneinfo
        # A one-member replica set: the services write a record and its notifications in one transaction, which
        # needs one. install.sh initiates it once ({{MongoReplicaSet}}, member 127.0.0.1:{{MongoPort}}).
        replication:
          replSetName: {{MongoReplicaSet}}
        security:
          authorization: enabled
          # A replica set with authorization needs a key file (members authenticate to each other with it);
          # install.sh generates it once, readable by mongod only.
          keyFile: {{MongoKeyFile}}

        """;

    public static string NginxSite(IReadOnlyList<VmService> services)
    {
        var external = services.Where(s => s.IsExternal).ToList();
        var upgrade = $"${SystemName.Replace('-', '_')}_connection_upgrade";
        var site = new StringBuilder();
        site.Append($$"""
            {{UbuntuVmDeployment.Header()}}
            # The only way in: TLS on 443 for each external service of the app model, each on its own host name
            # ({{PublicDomainPlaceholder}} is filled in by install.sh). The services listen on 127.0.0.1 only.

            # WebSocket upgrade for Blazor's circuit; plain requests keep the upstream connection alive.
            map $http_upgrade {{upgrade}} {
                default upgrade;
                ''      "";
            }

            """);

        foreach (var service in external)
        {
            site.Append($$"""

                upstream {{Upstream(service)}} {
                    server 127.0.0.1:{{service.Port}};
                    keepalive 16;
                }

                """);
        }

        site.Append($$"""

            server {
                listen 80;
                listen [::]:80;
                server_name {{string.Join(' ', external.Select(HostName))}};

                # Let's Encrypt's HTTP-01 challenge (certbot --webroot -w /var/www/html).
                location /.well-known/acme-challenge/ {
                    root /var/www/html;
                }

                location / {
                    return 301 https://$host$request_uri;
                }
            }

            """);

        foreach (var service in external)
        {
            var bodyLimit = service.RequestBodyLimitBytes is { } bytes
                ? $"\n    # Matches the service's Kestrel limit ({UbuntuVmResourceExtensions.RequestBodyLimitVariable}).\n    client_max_body_size {NginxSize(bytes)};"
                : "";
            site.Append($$"""

                server {
                    listen 443 ssl http2;
                    listen [::]:443 ssl http2;
                    server_name {{HostName(service)}};

                    # Certificate placeholders: install.sh puts a self-signed pair here until you replace it
                    # (for example with certbot's fullchain.pem and privkey.pem).
                    ssl_certificate {{TlsDirectory}}/fullchain.pem;
                    ssl_certificate_key {{TlsDirectory}}/privkey.pem;
                    ssl_protocols TLSv1.2 TLSv1.3;
                    ssl_session_cache shared:{{SystemName}}_tls:1m;
                {{bodyLimit}}
                    access_log /var/log/nginx/{{SystemName}}-{{service.Name}}.access.log;
                    error_log /var/log/nginx/{{SystemName}}-{{service.Name}}.error.log;

                    location / {
                        proxy_pass http://{{Upstream(service)}};
                        proxy_http_version 1.1;
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                        proxy_set_header X-Forwarded-Proto $scheme;
                        proxy_set_header X-Forwarded-Host $host;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection {{upgrade}};
                        # Blazor circuits stay open for the whole session.
                        proxy_read_timeout 1h;
                    }
                }

                """);
        }
        return site.ToString();
    }

    public static string Logrotate() => $$"""
        {{UbuntuVmDeployment.Header()}}
        # The services log to the journal (journalctl -u {{SystemName}}-*); Debian's own rules rotate
        # /var/log/nginx/*.log and /var/log/redis/*.log. These cover the rest.

        {{LogDirectory}}/*.log {
            weekly
            rotate 8
            compress
            delaycompress
            missingok
            notifempty
            create 0640 root adm
        }

        /var/log/mongodb/mongod.log {
            daily
            rotate 7
            compress
            delaycompress
            missingok
            notifempty
            nocreate
            sharedscripts
            postrotate
                /bin/kill -USR1 $(pidof mongod) 2>/dev/null || true
            endscript
        }

        """;

    private static string Upstream(VmService service) => $"{SystemName}_{service.Name}".Replace('-', '_');

    private static string HostName(VmService service) => $"{service.Name}.{PublicDomainPlaceholder}";

    private static string NginxSize(long bytes) =>
        bytes % (1024 * 1024) == 0
            ? (bytes / (1024 * 1024)).ToString(CultureInfo.InvariantCulture) + "m"
            : bytes.ToString(CultureInfo.InvariantCulture);
}
