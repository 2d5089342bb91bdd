#!/usr/bin/env bash
# Where kcp's CPU goes by thread group, and its system calls: bench/threads.sh SCENARIO OUTDIR PUBDIR [bench options]
# Starts one benchmark scenario (300,000 messages, kcp from PUBDIR, see `--publish-dir`), measures kcp's CPU per
# thread group (.NET thread names without their numbers, e.g. ".NET TP Worker") over 4 s from 8 s after kcp's start
# into OUTDIR/threads.txt, then counts its system calls with `strace -c -f` for 3 s into OUTDIR/strace.txt; the
# benchmark's own output is OUTDIR/bench.txt. Run from the repository root after one build of the benchmark.
set -u
if [ $# -lt 3 ]; then
    echo "usage: bench/threads.sh SCENARIO OUTDIR PUBDIR [bench options]" >&2
    exit 2
fi
scenario=$1
out=$2
pub=$3
shift 3
mkdir -p "$out"
dotnet run -c Release --no-build --project bench/KafkaConsumerProxy.Bench -- --scenarios "$scenario" --messages 300000 --publish-dir "$pub" "$@" > "$out/bench.txt" 2>&1 &
bench=$!
kcp=""
for _ in $(seq 1 300); do
    kcp=$(pgrep -f "$pub/kcp/kcp run --config" | head -n 1 || true)
    [ -n "$kcp" ] && break
    sleep 0.2
done
if [ -z "$kcp" ]; then
    echo "kcp did not start within 60 s; see $out/bench.txt" >&2
    wait "$bench"
    exit 1
fi
sleep 8
# Ticks of user and system time per thread group.
snapshot() {
    for task in /proc/"$kcp"/task/*; do
        name=$(cat "$task/comm" 2>/dev/null) || continue
        ticks=$(sed 's/.*) //' "$task/stat" 2>/dev/null | awk '{print $12 + $13}') || continue
        echo "$name|$ticks"
    done | awk -F'|' '{group = $1; sub(/[0-9]+$/, "", group); sum[group] += $2} END {for (g in sum) print g "|" sum[g]}' | sort
}
snapshot > "$out/t0"
before=$(awk '{print $14 + $15}' /proc/"$kcp"/stat)
sleep 4
snapshot > "$out/t1"
after=$(awk '{print $14 + $15}' /proc/"$kcp"/stat)
join -t'|' "$out/t0" "$out/t1" | awk -F'|' -v total=$((after - before)) '{d = $3 - $2; printf "%-22s %5d ticks %5.1f%%\n", $1, d, 100 * d / total}' > "$out/threads.txt"
echo "total $((after - before)) ticks in 4 s" >> "$out/threads.txt"
timeout 3 strace -c -f -p "$kcp" -o "$out/strace.txt" > /dev/null 2>&1
wait "$bench"
