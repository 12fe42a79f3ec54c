#!/usr/bin/env bash
# Runs one benchmark in Release and prints its figures; the last line is one JSON object.
#   bench/run.sh queue   # needs redis-server on PATH, or REDIS=host:port
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-}"
case "$name" in
  queue) ;;
  *) echo "usage: bench/run.sh <queue>" >&2; exit 2 ;;
esac
dotnet build bench/Notifications.Benchmarks -c Release -nologo -clp:ErrorsOnly >&2
exec dotnet bench/Notifications.Benchmarks/bin/Release/net10.0/Notifications.Benchmarks.dll "$name"
