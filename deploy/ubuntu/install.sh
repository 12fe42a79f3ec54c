#!/usr/bin/env bash
# Generated from the AppHost's app model by: dotnet run --project AppHost -- --operation publish --step publish-ubuntu-vm --output-path ../deploy/ubuntu
# Edit the AppHost (AppHost/Deployment/), not this file.
#
# Installs or updates the notification pipeline on an Ubuntu VM. Idempotent: run it again after
# each regeneration or release. It never overwrites the env files you edited, and generates each
# internal secret once (kept in /etc/notification-pipeline/secrets).
#
# usage: sudo PUBLIC_DOMAIN=example.org ./install.sh [APP_DIR]
#   PUBLIC_DOMAIN  needed on the first run (remembered): nginx serves <service>.PUBLIC_DOMAIN
#   APP_DIR        optional: `dotnet publish -c Release -o APP_DIR/<service>` output for each of: api notification-worker web-dashboard
#   STAGING_ROOT   tests only: write every file under this directory instead of /, and leave
#                  packages, users, ownership and services alone
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
app_dir="${1:-}"
root="${STAGING_ROOT:-}"
config="$root/etc/notification-pipeline"
secrets="$root/etc/notification-pipeline/secrets"
generated=(REDIS_APP_PASSWORD REDIS_OPS_PASSWORD MONGODB_APP_PASSWORD MONGODB_ADMIN_PASSWORD JWT_SECRET_KEY WEBHOOK_BULKSMS_TOKEN WEBHOOK_BREVO_TOKEN)
services=(api notification-worker web-dashboard)
declare -A assembly=([api]=Api.dll [notification-worker]=NotificationWorker.dll [web-dashboard]=Web.Dashboard.dll)

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
[ -x /usr/bin/dotnet ] || echo "warning: /usr/bin/dotnet missing: install the ASP.NET Core 10 runtime (apt: aspnetcore-runtime-10.0)"
command -v mongod >/dev/null || echo "warning: mongod missing: install MongoDB Community 8.0 (mongodb-org, from MongoDB's apt repository), then run install.sh again"

echo "== user and directories"
id -u notifications >/dev/null 2>&1 || system useradd --system --home-dir /opt/notification-pipeline --shell /usr/sbin/nologin notifications
put 0755 root:root -d "$root/opt/notification-pipeline"
put 0750 root:notifications -d "$config"
put 0700 root:root -d "$secrets" "$root/etc/notification-pipeline/tls"
put 0750 root:adm -d "$root/var/backups/notification-pipeline" "$root/var/log/notification-pipeline"
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
  [ -e "$target" ] || put 0640 root:notifications "$template" "$target"
  fill "$target"
done
chmod 0600 "$config/backup.env"
system chown root:root "$config/backup.env"

echo "== redis, mongod, nginx, logrotate, systemd"
# Keep the distribution's redis.conf once (not ours from an earlier run).
if [ -e "$root/etc/redis/redis.conf" ] && [ ! -e "$root/etc/redis/redis.conf.orig" ] \
  && ! grep -q "^# Generated from the AppHost" "$root/etc/redis/redis.conf"; then
  cp "$root/etc/redis/redis.conf" "$root/etc/redis/redis.conf.orig"
fi
put_filled 0640 redis:redis "$here/redis.conf" "$root/etc/redis/redis.conf"
put_filled 0644 root:root "$here/mongod.conf" "$root/etc/mongod.conf"
# The replica set's key file (mongod.conf: security.keyFile), made once; mongod refuses one others can read.
[ -s "$root/etc/mongod.keyfile" ] || (umask 077 && openssl rand -base64 756 > "$root/etc/mongod.keyfile")
chmod 0400 "$root/etc/mongod.keyfile"
if id -u mongodb >/dev/null 2>&1; then system chown mongodb:mongodb "$root/etc/mongod.keyfile"; fi
put_filled 0644 root:root "$here/nginx/notification-pipeline.conf" "$root/etc/nginx/sites-available/notification-pipeline.conf"
ln -sfn ../sites-available/notification-pipeline.conf "$root/etc/nginx/sites-enabled/notification-pipeline.conf"
put 0644 root:root "$here/logrotate/notification-pipeline" "$root/etc/logrotate.d/notification-pipeline"
put 0644 root:root "$here"/systemd/* "$root/etc/systemd/system/"
put 0755 root:root "$here/backup.sh" "$root/usr/local/sbin/notification-pipeline-backup"

# Certificate placeholder: self-signed until you put real ones there (the paths nginx reads).
if [ ! -s "$root/etc/notification-pipeline/tls/fullchain.pem" ]; then
  echo "== self-signed TLS certificate for api.$domain, web-dashboard.$domain (replace it)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$domain" \
    -addext "subjectAltName=DNS:api.$domain,DNS:web-dashboard.$domain" \
    -keyout "$root/etc/notification-pipeline/tls/privkey.pem" -out "$root/etc/notification-pipeline/tls/fullchain.pem" 2>/dev/null
  chmod 0600 "$root/etc/notification-pipeline/tls/privkey.pem"
fi

if [ -n "$app_dir" ]; then
  echo "== application from $app_dir"
  for svc in "${services[@]}"; do
    [ -f "$app_dir/$svc/${assembly[$svc]}" ] || { echo "install.sh: $app_dir/$svc/${assembly[$svc]} missing" >&2; exit 1; }
    rm -rf "$root/opt/notification-pipeline/$svc.new"
    cp -a "$app_dir/$svc" "$root/opt/notification-pipeline/$svc.new"
    system chown -R root:notifications "$root/opt/notification-pipeline/$svc.new"
    chmod -R go-w,o-rwx "$root/opt/notification-pipeline/$svc.new"
    rm -rf "$root/opt/notification-pipeline/$svc"
    mv "$root/opt/notification-pipeline/$svc.new" "$root/opt/notification-pipeline/$svc"
  done
fi

echo "== services"
if [ -z "$root" ]; then
  systemctl daemon-reload
  systemctl enable --quiet redis-server nginx notification-pipeline-backup.timer notification-pipeline-api.service notification-pipeline-notification-worker.service notification-pipeline-web-dashboard.service
  systemctl restart redis-server
  if command -v mongod >/dev/null; then
    systemctl enable --quiet mongod
    systemctl restart mongod
    if command -v mongosh >/dev/null; then
      for _ in $(seq 1 30); do
        mongosh --quiet --nodb --eval 'connect("mongodb://127.0.0.1:27017/admin?directConnection=true").runCommand({ ping: 1 })' >/dev/null 2>&1 && break
        sleep 1
      done
      # The one-member replica set rs0 (the services write transactions, which need one): initiated
      # once, then waited for until this member is primary; then the users. On the first run the localhost
      # exception allows the initiation and the first user (admin); later runs sign in as admin.
      ADMIN_PW="$(cat "$secrets/MONGODB_ADMIN_PASSWORD")" APP_PW="$(cat "$secrets/MONGODB_APP_PASSWORD")" mongosh --quiet --nodb --eval '
        const localUri = "mongodb://127.0.0.1:27017/admin?directConnection=true";
        const adminUri = "mongodb://admin:" + process.env.ADMIN_PW + "@127.0.0.1:27017/admin?authSource=admin&directConnection=true";
        let admin = null;
        try {
          admin = connect(adminUri);
          if (admin.runCommand({ connectionStatus: 1 }).authInfo.authenticatedUsers.length === 0) { admin = null; }
        } catch (e) { admin = null; }
        const node = admin ?? connect(localUri);
        if (!node.runCommand({ hello: 1 }).setName) {
          // rs.initiate(), once: a member with a configuration names its set in hello.
          try { node.adminCommand({ replSetInitiate: { _id: "rs0", members: [{ _id: 0, host: "127.0.0.1:27017" }] } }); }
          catch (e) { if (e.code !== 23) { throw e; } } // 23 AlreadyInitialized: a restart still loading its configuration
        }
        let primary = false;
        for (let i = 0; i < 60 && !(primary = node.runCommand({ hello: 1 }).isWritablePrimary); i++) { sleep(1000); }
        if (!primary) { throw new Error("replica set rs0: no primary after 60 s"); }
        if (!admin) {
          node.createUser({ user: "admin", pwd: process.env.ADMIN_PW, roles: ["root"] });
          admin = connect(adminUri);
        }
        const app = admin.getSiblingDB("suma_madam");
        if (!app.getUser("notifications")) {
          app.createUser({ user: "notifications", pwd: process.env.APP_PW, roles: [{ role: "readWrite", db: "suma_madam" }] });
        }' || echo "warning: could not set up the MongoDB replica set and users: see README.md"
    else
      echo "warning: mongosh missing: initiate the replica set and create the MongoDB users by hand (README.md)"
    fi
  fi
  nginx -t
  systemctl reload-or-restart nginx
  systemctl start notification-pipeline-backup.timer
  for svc in "${services[@]}"; do
    if [ -f "/opt/notification-pipeline/$svc/${assembly[$svc]}" ]; then
      systemctl restart "notification-pipeline-$svc.service"
    else
      echo "note: notification-pipeline-$svc not started: no /opt/notification-pipeline/$svc/${assembly[$svc]} yet (pass APP_DIR)"
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
