#!/usr/bin/env bash
# Chaos run: redis-server, the Api and two workers as separate processes on the embedded store, a
# recording BulkSMS and Brevo on loopback; 500 uploaded students (1,000 welcomes) each submit a form
# (1,000 confirmations) while a worker is SIGKILLed 20 times and redis-server 5 times.
# Prints accepted, delivered, lost, duplicated and recovery seconds, the last line one JSON object;
# exits non-zero unless lost and duplicated are 0. CHAOS_SEED=N repeats a run's random moments.
# Needs redis-server on PATH (apt-get install redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."

# The services run from their Release builds, as deployed; the benchmark build brings the Api's.
for project in NotificationWorker bench/Notifications.Benchmarks; do
  dotnet build "$project" -c Release -nologo -v q -clp:ErrorsOnly >&2
done
exec dotnet bench/Notifications.Benchmarks/bin/Release/net10.0/Notifications.Benchmarks.dll chaos
