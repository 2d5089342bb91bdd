#!/usr/bin/env bash
# Alternating benchmark runs: bench/ab.sh OUTDIR ROUNDS "OPTIONS A" "OPTIONS B" ["OPTIONS C" ...]
# Runs the benchmark with each set of options in turn, ROUNDS times (A B C, A B C, ...), so that every variant sees the
# same machine; run N of variant V is written to OUTDIR/V-N.txt, and OUTDIR/runs.log names each run with the load
# average at its start. The options are the benchmark's own (see `dotnet run --project bench/KafkaConsumerProxy.Bench
# -- --help`); two builds are compared with `--publish-dir DIR` (publish each once, then reuse it), two environments
# of one build with `--kcp-env`. Run from the repository root after one build of the benchmark (`--no-build` below).
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: bench/ab.sh OUTDIR ROUNDS \"OPTIONS A\" \"OPTIONS B\" [\"OPTIONS C\" ...]" >&2
    exit 2
fi
out=$1
rounds=$2
shift 2
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
    variant=0
    for options in "$@"; do
        variant=$((variant + 1))
        name=$(printf "\\x$(printf %x $((64 + variant)))")
        echo "round $round $name: $options (load $(cut -d' ' -f1 /proc/loadavg), $(date +%T))" >> "$out/runs.log"
        # shellcheck disable=SC2086 # the options are words on purpose
        dotnet run -c Release --no-build --project bench/KafkaConsumerProxy.Bench -- $options > "$out/$name-$round.txt" 2>&1
    done
done
echo "done $(date +%T)" >> "$out/runs.log"
