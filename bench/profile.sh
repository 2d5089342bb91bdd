#!/usr/bin/env bash
# Profiles kcp during one benchmark scenario: perf (with the runtime's perf map, so JIT-compiled methods have
# names) attached to the kcp process of that scenario once its deliveries run, then dotnet-counters (System.Runtime:
# GC, allocation rate, thread pool, lock contention) for 3 s after the perf window. Output in OUT_DIR: perf.data,
# perf-report.txt (flat, by symbol), perf-callers.txt (with children), perf-dso.txt, counters.csv, bench.txt.
#
#   bench/profile.sh sync|async|batch [OUT_DIR] [extra benchmark options...]
#
# PROFILE_DELAY (s after kcp starts, default 5), PROFILE_SECONDS (default 6), PROFILE_KCP_ENV (more KEY=VALUE,... for
# kcp), PROFILE_COUNTERS=0 (no dotnet-counters).
# Needs linux-perf (perf) and the local tools of .config/dotnet-tools.json (`dotnet tool restore`).
set -euo pipefail
scenario=${1:?scenario: sync, async or batch}
out=${2:-/tmp/kcp-profile-$scenario}
shift $(( $# >= 2 ? 2 : 1 ))
seconds=${PROFILE_SECONDS:-6}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
cd "$repo"
dotnet tool restore >/dev/null

dotnet run -c Release --project bench/KafkaConsumerProxy.Bench --artifacts-path "${ARTIFACTS:-/tmp/art-bench-profile}" -- \
  --scenarios "$scenario" --messages 300000 \
  --kcp-env "DOTNET_PerfMapEnabled=1,DOTNET_EnableWriteXorExecute=0${PROFILE_KCP_ENV:+,$PROFILE_KCP_ENV}" "$@" > "$out/bench.txt" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT

# The kcp process of this benchmark: a descendant of it running "kcp run".
kcp=""
for _ in $(seq 1 600); do
  for pid in $(pgrep -f "kcp run --config" || true); do
    p=$pid
    while [ "$p" -gt 1 ]; do
      if [ "$p" = "$bench" ]; then kcp=$pid; break 3; fi
      p=$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ' || echo 1)
      [ -n "$p" ] || p=1
    done
  done
  sleep 0.2
done
[ -n "$kcp" ] || { echo "no kcp process appeared"; exit 1; }

# The group forms some 4 s after kcp starts (the mock cluster's 3 s initial rebalance delay); deliveries then
# run for 10 s or more with 300,000 messages. PROFILE_DELAY moves the window.
sleep "${PROFILE_DELAY:-5}"
echo "profiling kcp pid $kcp for $seconds s: $(ps -o args= -p "$kcp" | cut -c1-120)"
# dotnet-counters runs after perf, not during it: an EventPipe session on System.Net.Http turns on that event
# source's per-request events, which then cost kcp more than anything else (seen in a first profile).
perf record -F 997 -g -p "$kcp" -o "$out/perf.data" -- sleep "$seconds" > "$out/perf-record.txt" 2>&1 || true
if [ "${PROFILE_COUNTERS:-1}" = 1 ] && kill -0 "$kcp" 2>/dev/null; then
  dotnet dotnet-counters collect -p "$kcp" --format csv -o "$out/counters.csv" --duration 00:00:03 \
    --counters System.Runtime >/dev/null 2>&1 || true
fi
wait $bench || true
trap - EXIT
perf report -i "$out/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v "^$" | head -400 > "$out/perf-report.txt" || true
perf report -i "$out/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -v "^$" | head -300 > "$out/perf-callers.txt" || true
perf report -i "$out/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -v "^$" | head -40 > "$out/perf-dso.txt" || true
echo "results in $out"
