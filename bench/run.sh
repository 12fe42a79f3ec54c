#!/usr/bin/env bash
# Benchmarks: `bench/run.sh <name>` builds in Release, runs one benchmark and prints its figures,
# the last line being one JSON object. Build output goes to stderr.
#   queue   needs redis-server on PATH (it starts its own, AOF everysec), or REDIS=host:port
#   store   embedded SQLite in a temporary file
#   api     the Api as its own process (Release, the deployment's GC settings), embedded SQLite, its own
#           redis-server: form submissions under 100 clients, 10,000- and 50,000-row CSV uploads, peak RSS per phase
set -euo pipefail
cd "$(dirname "$0")/.."

project=bench/Notifications.Benchmarks
build() { dotnet build "$project" -c Release -nologo -v q -clp:ErrorsOnly >&2; }
run() { dotnet "$project/bin/Release/net10.0/Notifications.Benchmarks.dll" "$@"; }

case "${1:-}" in
  queue|store|api) build; run "$1" ;;
  *) echo "usage: bench/run.sh <queue|store|api>" >&2; exit 2 ;;
esac
