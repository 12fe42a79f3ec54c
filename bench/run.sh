#!/usr/bin/env bash
# Benchmarks: `bench/run.sh <name>` builds in Release, runs one benchmark and prints its figures as a
# single JSON object on the last line. Build output goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

project=bench/Notifications.Benchmarks
build() { dotnet build "$project" -c Release -nologo -v q -clp:ErrorsOnly >&2; }
run() { dotnet "$project/bin/Release/net10.0/Notifications.Benchmarks.dll" "$@"; }

case "${1:-}" in
  store) build; run store ;;
  *) echo "usage: bench/run.sh store" >&2; exit 2 ;;
esac
