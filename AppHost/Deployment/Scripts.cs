using static AppHost.Deployment.UbuntuVmLayout;

namespace AppHost.Deployment;

/// <summary>install.sh (idempotent) and backup.sh.</summary>
internal static class Scripts
{
    public static string Install(IReadOnlyList<VmService> services)
    {
        var names = string.Join(' ', services.Select(s => s.Name));
        var units = string.Join(' ', services.Select(s => s.UnitName));
        var altNames = string.Join(',', services.Where(s => s.IsExternal).Select(s => $"DNS:{s.Name}.$domain"));
        var assemblies = string.Join(' ', services.Select(s => $"[{s.Name}]={s.AssemblyName}.dll"));
        return $$"""
            #!/usr/bin/env bash
            {{UbuntuVmDeployment.Header()}}
            #
            # Installs or updates the notification pipeline on an Ubuntu VM. Idempotent: run it again after
            # each regeneration or release. It never overwrites the env files you edited, and generates each
            # internal secret once (kept in {{SecretsDirectory}}).
            #
            # usage: sudo PUBLIC_DOMAIN=example.org ./install.sh [APP_DIR]
            #   PUBLIC_DOMAIN  needed on the first run (remembered): nginx serves <service>.PUBLIC_DOMAIN
            #   APP_DIR        optional: `dotnet publish -c Release -o APP_DIR/<service>` output for each of: {{names}}
            #   STAGING_ROOT   tests only: write every file under this directory instead of /, and leave
            #                  packages, users, ownership and services alone
            set -euo pipefail

            here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
            app_dir="${1:-}"
            root="${STAGING_ROOT:-}"
            config="$root{{ConfigDirectory}}"
            secrets="$root{{SecretsDirectory}}"
            generated=({{string.Join(' ', GeneratedSecrets)}})
            services=({{names}})
            declare -A assembly=({{assemblies}})

            # Runs a command that changes the running system (not in staging).
            system() { if [ -z "$root" ]; then "$@"; fi; }
            # install(1) with owner and group, which staging cannot set.
            put() { # mode owner:group install-args...
              local mode="$1" owner="$2"
              shift 2
              if [ -z "$root" ]; then install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$@"; else install -m "$mode" "$@"; fi
            }

            [ -n "$root" ] || [ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo)" >&2; exit 1; }

            echo "== packages"
            missing=()
            for pkg in redis-server redis-tools nginx openssl logrotate; do
              dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
            done
            if [ "${#missing[@]}" -gt 0 ]; then
              system apt-get update -q
              DEBIAN_FRONTEND=noninteractive system apt-get install -y -q "${missing[@]}"
            fi
            # This redis.conf needs Redis 7 (multi-pair save, appenddirname); Ubuntu 24.04 ships 7.0, 22.04 ships 6.0.
            redis_version="$(redis-server --version 2>/dev/null || echo none)"
            redis_major="$(sed -n 's/.* v=\([0-9]*\)\..*/\1/p' <<<"$redis_version")"
            [ "${redis_major:-0}" -ge 7 ] || { echo "install.sh: Redis 7 or later needed, found: $redis_version" >&2; exit 1; }
            [ -x {{DotnetPath}} ] || echo "warning: {{DotnetPath}} missing: install the ASP.NET Core 10 runtime (apt: aspnetcore-runtime-10.0)"
            command -v mongod >/dev/null || echo "warning: mongod missing: install MongoDB Community 8.0 (mongodb-org, from MongoDB's apt repository), then run install.sh again"

            echo "== user and directories"
            id -u {{ServiceUser}} >/dev/null 2>&1 || system useradd --system --home-dir {{InstallRoot}} --shell /usr/sbin/nologin {{ServiceUser}}
            put 0755 root:root -d "$root{{InstallRoot}}"
            put 0750 root:{{ServiceUser}} -d "$config"
            put 0700 root:root -d "$secrets" "$root{{TlsDirectory}}"
            put 0750 root:adm -d "$root{{BackupDirectory}}" "$root{{LogDirectory}}"
            mkdir -p "$root/etc/redis" "$root/etc/nginx/sites-available" "$root/etc/nginx/sites-enabled" \
              "$root/etc/logrotate.d" "$root/etc/systemd/system" "$root/usr/local/sbin"

            echo "== secrets"
            for name in "${generated[@]}"; do
              [ -s "$secrets/$name" ] || (umask 077 && openssl rand -hex 32 > "$secrets/$name")
            done
            if [ -n "${PUBLIC_DOMAIN:-}" ]; then
              printf '%s\n' "$PUBLIC_DOMAIN" > "$secrets/PUBLIC_DOMAIN"
            fi
            [ -s "$secrets/PUBLIC_DOMAIN" ] || { echo "install.sh: first run: set PUBLIC_DOMAIN=your.domain" >&2; exit 1; }
            domain="$(cat "$secrets/PUBLIC_DOMAIN")"

            # Replaces __NAME__ with the generated secrets and the domain (hex and host names: safe for sed).
            fill() {
              local name
              for name in "${generated[@]}" PUBLIC_DOMAIN; do
                sed -i "s|__${name}__|$(cat "$secrets/$name")|g" "$1"
              done
            }

            # Files the generator owns: replaced on every run, with the secrets filled in.
            put_filled() { # mode owner:group source target
              local tmp
              tmp="$(mktemp)"
              cp "$3" "$tmp"
              fill "$tmp"
              put "$1" "$2" "$tmp" "$4"
              rm -f "$tmp"
            }

            echo "== env files ($config)"
            for template in "$here"/env/*.env; do
              target="$config/$(basename "$template")"
              [ -e "$target" ] || put 0640 root:{{ServiceUser}} "$template" "$target"
              fill "$target"
            done
            chmod 0600 "$config/{{BackupEnvironmentFile}}"
            system chown root:root "$config/{{BackupEnvironmentFile}}"

            echo "== redis, mongod, nginx, logrotate, systemd"
            # Keep the distribution's redis.conf once (not ours from an earlier run).
            if [ -e "$root/etc/redis/redis.conf" ] && [ ! -e "$root/etc/redis/redis.conf.orig" ] \
              && ! grep -q "^# Generated from the AppHost" "$root/etc/redis/redis.conf"; then
              cp "$root/etc/redis/redis.conf" "$root/etc/redis/redis.conf.orig"
            fi
            put_filled 0640 redis:redis "$here/redis.conf" "$root/etc/redis/redis.conf"
            put_filled 0644 root:root "$here/mongod.conf" "$root/etc/mongod.conf"
            # The replica set's key file (mongod.conf: security.keyFile), made once; mongod refuses one others can read.
            [ -s "$root{{MongoKeyFile}}" ] || (umask 077 && openssl rand -base64 756 > "$root{{MongoKeyFile}}")
            chmod 0400 "$root{{MongoKeyFile}}"
            if id -u mongodb >/dev/null 2>&1; then system chown mongodb:mongodb "$root{{MongoKeyFile}}"; fi
            put_filled 0644 root:root "$here/nginx/{{SystemName}}.conf" "$root/etc/nginx/sites-available/{{SystemName}}.conf"
            ln -sfn ../sites-available/{{SystemName}}.conf "$root/etc/nginx/sites-enabled/{{SystemName}}.conf"
            put 0644 root:root "$here/logrotate/{{SystemName}}" "$root/etc/logrotate.d/{{SystemName}}"
            put 0644 root:root "$here"/systemd/* "$root/etc/systemd/system/"
            put 0755 root:root "$here/backup.sh" "$root{{BackupCommand}}"

            # Certificate placeholder: self-signed until you put real ones there (the paths nginx reads).
            if [ ! -s "$root{{TlsDirectory}}/fullchain.pem" ]; then
              echo "== self-signed TLS certificate for {{string.Join(", ", services.Where(s => s.IsExternal).Select(s => s.Name + ".$domain"))}} (replace it)"
              openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$domain" \
                -addext "subjectAltName={{altNames}}" \
                -keyout "$root{{TlsDirectory}}/privkey.pem" -out "$root{{TlsDirectory}}/fullchain.pem" 2>/dev/null
              chmod 0600 "$root{{TlsDirectory}}/privkey.pem"
            fi

            if [ -n "$app_dir" ]; then
              echo "== application from $app_dir"
              for svc in "${services[@]}"; do
                [ -f "$app_dir/$svc/${assembly[$svc]}" ] || { echo "install.sh: $app_dir/$svc/${assembly[$svc]} missing" >&2; exit 1; }
                rm -rf "$root{{InstallRoot}}/$svc.new"
                cp -a "$app_dir/$svc" "$root{{InstallRoot}}/$svc.new"
                system chown -R root:{{ServiceUser}} "$root{{InstallRoot}}/$svc.new"
                chmod -R go-w,o-rwx "$root{{InstallRoot}}/$svc.new"
                rm -rf "$root{{InstallRoot}}/$svc"
                mv "$root{{InstallRoot}}/$svc.new" "$root{{InstallRoot}}/$svc"
              done
            fi

            echo "== services"
            if [ -z "$root" ]; then
              systemctl daemon-reload
              systemctl enable --quiet redis-server nginx {{SystemName}}-backup.timer {{units}}
              systemctl restart redis-server
              if command -v mongod >/dev/null; then
                systemctl enable --quiet mongod
                systemctl restart mongod
                if command -v mongosh >/dev/null; then
                  for _ in $(seq 1 30); do
                    mongosh --quiet --nodb --eval 'connect("mongodb://127.0.0.1:{{MongoPort}}/admin?directConnection=true").runCommand({ ping: 1 })' >/dev/null 2>&1 && break
                    sleep 1
                  done
                  # The one-member replica set {{MongoReplicaSet}} (the services write transactions, which need one): initiated
                  # once, then waited for until this member is primary; then the users. On the first run the localhost
                  # exception allows the initiation and the first user (admin); later runs sign in as admin.
                  ADMIN_PW="$(cat "$secrets/MONGODB_ADMIN_PASSWORD")" APP_PW="$(cat "$secrets/MONGODB_APP_PASSWORD")" mongosh --quiet --nodb --eval '
                    const localUri = "mongodb://127.0.0.1:{{MongoPort}}/admin?directConnection=true";
                    const adminUri = "mongodb://{{MongoAdminUser}}:" + process.env.ADMIN_PW + "@127.0.0.1:{{MongoPort}}/admin?authSource=admin&directConnection=true";
                    let admin = null;
                    try {
                      admin = connect(adminUri);
                      if (admin.runCommand({ connectionStatus: 1 }).authInfo.authenticatedUsers.length === 0) { admin = null; }
                    } catch (e) { admin = null; }
                    const node = admin ?? connect(localUri);
                    if (!node.runCommand({ hello: 1 }).setName) {
                      // rs.initiate(), once: a member with a configuration names its set in hello.
                      try { node.adminCommand({ replSetInitiate: { _id: "{{MongoReplicaSet}}", members: [{ _id: 0, host: "127.0.0.1:{{MongoPort}}" }] } }); }
                      catch (e) { if (e.code !== 23) { throw e; } } // 23 AlreadyInitialized: a restart still loading its configuration
                    }
                    let primary = false;
                    for (let i = 0; i < 60 && !(primary = node.runCommand({ hello: 1 }).isWritablePrimary); i++) { sleep(1000); }
                    if (!primary) { throw new Error("replica set {{MongoReplicaSet}}: no primary after 60 s"); }
                    if (!admin) {
                      node.createUser({ user: "{{MongoAdminUser}}", pwd: process.env.ADMIN_PW, roles: ["root"] });
                      admin = connect(adminUri);
                    }
                    const app = admin.getSiblingDB("{{MongoDatabase}}");
                    if (!app.getUser("{{MongoAppUser}}")) {
                      app.createUser({ user: "{{MongoAppUser}}", pwd: process.env.APP_PW, roles: [{ role: "readWrite", db: "{{MongoDatabase}}" }] });
                    }' || echo "warning: could not set up the MongoDB replica set and users: see README.md"
                else
                  echo "warning: mongosh missing: initiate the replica set and create the MongoDB users by hand (README.md)"
                fi
              fi
              nginx -t
              systemctl reload-or-restart nginx
              systemctl start {{SystemName}}-backup.timer
              for svc in "${services[@]}"; do
                if [ -f "{{InstallRoot}}/$svc/${assembly[$svc]}" ]; then
                  systemctl restart "{{SystemName}}-$svc.service"
                else
                  echo "note: {{SystemName}}-$svc not started: no {{InstallRoot}}/$svc/${assembly[$svc]} yet (pass APP_DIR)"
                fi
              done
            fi

            unset_secrets="$(grep -ho '__[A-Z0-9_]*__' "$config"/*.env | sort -u | tr '\n' ' ' || true)"
            if [ -n "$unset_secrets" ]; then
              echo "still to fill in $config/*.env: $unset_secrets"
            fi
            echo "delivery receipts: give BulkSMS https://api.$domain/api/webhooks/bulksms/<the token in $secrets/WEBHOOK_BULKSMS_TOKEN>"
            echo "  and Brevo (transactional webhook) https://api.$domain/api/webhooks/brevo/<the token in $secrets/WEBHOOK_BREVO_TOKEN>"
            echo "done"

            """;
    }

    public static string Backup() => $$"""
        #!/usr/bin/env bash
        {{UbuntuVmDeployment.Header()}}
        #
        # Redis snapshot (BGSAVE, then a copy of dump.rdb once it is written) and mongodump into BACKUP_DIR;
        # files older than RETENTION_DAYS are deleted. Run daily by {{SystemName}}-backup.timer with
        # {{ConfigDirectory}}/{{BackupEnvironmentFile}}; exits non-zero if either part failed.
        set -uo pipefail

        BACKUP_DIR="${BACKUP_DIR:-{{BackupDirectory}}}"
        RETENTION_DAYS="${RETENTION_DAYS:-7}"
        REDIS_PORT="${REDIS_PORT:-{{RedisPort}}}"
        REDIS_USER="${REDIS_USER:-{{RedisOpsUser}}}"
        REDIS_DIR="${REDIS_DIR:-/var/lib/redis}"
        LOG_DIR="${LOG_DIR:-{{LogDirectory}}}"
        export REDISCLI_AUTH="${REDISCLI_AUTH:-}" # redis-cli reads the password from here, not from argv

        mkdir -p "$BACKUP_DIR" "$LOG_DIR"
        exec > >(tee -a "$LOG_DIR/backup.log") 2>&1
        stamp="$(date -u +%Y%m%dT%H%M%SZ)"
        status=0
        cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --user "$REDIS_USER" --no-auth-warning "$@"; }

        echo "$stamp backup starting"

        # BGSAVE answers at once; the snapshot is complete when LASTSAVE passes the time before it.
        before="$(cli LASTSAVE)"
        if [[ "$before" =~ ^[0-9]+$ ]]; then
          sleep 1
          cli BGSAVE >/dev/null
          for _ in $(seq 1 600); do
            [ "$(cli LASTSAVE)" -gt "$before" ] && break
            sleep 1
          done
          if [ "$(cli LASTSAVE)" -gt "$before" ] && cli INFO persistence | grep -q '^rdb_last_bgsave_status:ok'; then
            cp "$REDIS_DIR/dump.rdb" "$BACKUP_DIR/redis-$stamp.rdb" && echo "redis: $BACKUP_DIR/redis-$stamp.rdb" || status=1
          else
            echo "redis: BGSAVE did not complete" >&2
            status=1
          fi
        else
          echo "redis: not reachable: $before" >&2
          status=1
        fi

        if command -v mongodump >/dev/null; then
          # The URI (with its password) goes in a file, not argv.
          conf="$(mktemp)"
          (umask 077 && printf 'uri: "%s"\n' "${MONGODB_BACKUP_URI:?}" > "$conf")
          if mongodump --config="$conf" --gzip --archive="$BACKUP_DIR/mongodb-$stamp.archive.gz" --quiet; then
            echo "mongodb: $BACKUP_DIR/mongodb-$stamp.archive.gz"
          else
            echo "mongodb: mongodump failed" >&2
            status=1
          fi
          rm -f "$conf"
        else
          echo "mongodb: mongodump missing (mongodb-database-tools)" >&2
          status=1
        fi

        find "$BACKUP_DIR" -maxdepth 1 -type f \( -name 'redis-*.rdb' -o -name 'mongodb-*.archive.gz' \) \
          -mmin +$((RETENTION_DAYS * 24 * 60)) -print -delete

        exit "$status"

        """;
}
