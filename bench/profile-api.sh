#!/usr/bin/env bash
# Where a form submission's CPU goes: runs `bench/run.sh api` with a 20 s submissions phase, samples the
# process with perf for 10 s in its middle, and prints the share of samples per component (the leaf-most
# frame that names one). The Api runs as its own process; perf samples that process. Needs perf and
# python3; run as root or with perf_event_paranoid <= 1.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "perf is not installed (Debian: linux-perf)" >&2; exit 2; }

project=bench/Notifications.Benchmarks
dotnet build "$project" -c Release -nologo -v q -clp:ErrorsOnly >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 BENCH_MEASURE_S=20
dotnet "$project/bin/Release/net10.0/Notifications.Benchmarks.dll" api > "$work/bench.txt" 2>&1 &
bench=$!
# The submissions' measuring starts 8 s (warm-up) after the Api's line.
until grep -q "^Api pid" "$work/bench.txt" 2>/dev/null; do kill -0 $bench 2>/dev/null || { cat "$work/bench.txt"; exit 1; }; sleep 0.5; done
api=$(grep -m1 "^Api pid" "$work/bench.txt" | awk '{print $3}')
sleep 13
perf record -F 999 -g -p "$api" -o "$work/perf.data" -- sleep 10 >/dev/null 2>&1
wait $bench
grep -E "^form submissions" "$work/bench.txt"
perf script -i "$work/perf.data" 2>/dev/null > "$work/perf.txt"

python3 - "$work/perf.txt" <<'PY'
import collections, sys
# First match wins, from the leaf up: a frame names the component that spends the sample.
components = [
    ("message templates (Fluid)", ["NotificationTemplates", "[Fluid]"]),
    ("SQLite engine", ["libe_sqlite3"]),
    ("SQLite client and group commit", ["Microsoft.Data.Sqlite", "SqliteGroupCommit", "SqliteFormSubmissionStore", "SqliteDeliveryLog"]),
    ("queue producer and delivery-log writer", ["NotificationQueue", "NotificationDispatcher", "DeliveryLogWriter", "StoreInput"]),
    ("cache (FusionCache, removals)", ["ApiCache", "CoalescedRemovals", "FusionCache", "RecordCache"]),
    ("submission pipeline", ["SubmissionPipeline"]),
    ("JWT validation", ["IdentityModel"]),
    ("authentication and authorization", ["Authentication", "Authorization"]),
    ("load generator (HttpClient)", ["System.Net.Http"]),
    ("Redis client", ["StackExchange.Redis", "Pipelines.Sockets"]),
    ("OpenTelemetry and Activity", ["OpenTelemetry", "System.Diagnostics.Activity", "DiagnosticSource", "Diagnostics.Metrics"]),
    ("endpoint and idempotency", ["FormsApi", "RequestDelegateFactory", "HttpResults", "IdempotentResponses", "IdempotencyKeys"]),
    ("JSON", ["System.Text.Json"]),
    ("Kestrel and ASP.NET Core", ["Kestrel", "Microsoft.AspNetCore"]),
    ("thread pool", ["ThreadPool", "LowLevelLifoSemaphore", "WorkerThread"]),
    ("sockets", ["System.Net.Sockets"]),
    ("tasks and async", ["System.Threading.Tasks", "AsyncTaskMethodBuilder", "ExecutionContext"]),
]
counts, total = collections.Counter(), 0
for sample in open(sys.argv[1]).read().split("\n\n"):
    frames = sample.strip().split("\n")[1:]
    if not frames:
        continue
    total += 1
    name = next((n for f in frames for n, keys in components if any(k in f for k in keys)), None)
    if name is None:
        name = "kernel (network, wake-ups)" if "[kernel" in frames[0] else "runtime and other native"
    counts[name] += 1
print(f"{total} samples")
for name, n in counts.most_common():
    print(f"{100 * n / total:5.1f}%  {name}")
PY
