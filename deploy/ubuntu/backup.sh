#!/usr/bin/env bash
# Generated from the AppHost's app model by: dotnet run --project AppHost -- --operation publish --step publish-ubuntu-vm --output-path ../deploy/ubuntu
# Edit the AppHost (AppHost/Deployment/), not this file.
#
# Redis snapshot (BGSAVE, then a copy of dump.rdb once it is written) and mongodump into BACKUP_DIR;
# files older than RETENTION_DAYS are deleted. Run daily by notification-pipeline-backup.timer with
# /etc/notification-pipeline/backup.env; exits non-zero if either part failed.
set -uo pipefail

BACKUP_DIR="${BACKUP_DIR:-/var/backups/notification-pipeline}"
RETENTION_DAYS="${RETENTION_DAYS:-7}"
REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_USER="${REDIS_USER:-ops}"
REDIS_DIR="${REDIS_DIR:-/var/lib/redis}"
LOG_DIR="${LOG_DIR:-/var/log/notification-pipeline}"
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
