#!/usr/bin/env bash
# A rolling restart of three kcp processes on one embedded cluster, under load, for each assignor: the test
# FleetProcessTests.RollingRestart_* run with KCP_FLEET_ASSIGNOR and KCP_FLEET_RESTARTS (every instance restarted
# once), RUNS times each. Prints one line of figures per run (lost, repeated, longest gap per partition, revocations,
# bounces: kept partitions stopped and started again); docs/FLEET.md has the figures and what they mean.
#
#   bench/fleet-rolling.sh [RUNS]          (default 2; ASSIGNORS="range cooperative-sticky" by default)
set -euo pipefail
runs=${1:-2}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
figures=$(mktemp /tmp/kcp-fleet-figures.XXXXXX)
trap 'rm -f "$figures"' EXIT
dotnet build -c Debug tests/KafkaConsumerProxy.Tests 2>&1 | tail -1
for assignor in ${ASSIGNORS:-range cooperative-sticky}; do
  for _ in $(seq 1 "$runs"); do
    KCP_FLEET_ASSIGNOR=$assignor KCP_FLEET_RESTARTS=3 KCP_FLEET_FIGURES=$figures \
      dotnet test tests/KafkaConsumerProxy.Tests --no-build -c Debug \
      --filter "FullyQualifiedName~FleetProcessTests.RollingRestart" 2>&1 | grep -E "Passed!|Failed!" || true
  done
done
cat "$figures"
