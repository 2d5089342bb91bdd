#!/usr/bin/env bash
# Checks the release builds (run by .ci/run): builds linux-x64 and linux-arm64 with build.sh unless SKIP_BUILD=1,
# checks that the arm64 file is an AArch64 executable (it cannot run here), then runs the linux-x64 file's
# `kcp --version`, `kcp demo --messages 50` and `kcp validate` of a small configuration from the single file,
# with a fresh extraction directory so the bundled librdkafka is the one loaded. Any failure exits non-zero.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    deploy/release/build.sh linux-x64 linux-arm64
fi
if [ -f out/release/linux-arm64/kcp ]; then
    readelf -h out/release/linux-arm64/kcp | grep -q 'Machine: *AArch64' \
        || { echo "out/release/linux-arm64/kcp is not an AArch64 executable" >&2; exit 1; }
fi
kcp="$PWD/out/release/linux-x64/kcp"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DOTNET_BUNDLE_EXTRACT_BASE_DIR="$work/extract"
cd "$work"

echo "== kcp --version"
"$kcp" --version

echo "== kcp demo --messages 50"
timeout 180 "$kcp" demo --messages 50 | tee demo.log
grep -q '^Done: all 50 sample messages delivered' demo.log
ls "$DOTNET_BUNDLE_EXTRACT_BASE_DIR"/kcp/*/ | grep -q 'centos8-librdkafka.so' || {
    echo "librdkafka was not extracted from the single file" >&2
    exit 1
}

echo "== kcp validate"
mkdir -p conf/routes
cat > conf/kcp.yaml <<'YAML'
clusters:
  default:
    bootstrap_servers: "127.0.0.1:9092"
routes_dir: routes
state_dir: state
YAML
cat > conf/routes/orders.yaml <<'YAML'
topic: orders
group: orders-proxy
host: 127.0.0.1
port: 8080
url: /consume
concurrency: 1
can_skip: false
retry_nums: 0
retry_interval_ms: 1000
conn_timeout_ms: 1000
exec_timeout_ms: 5000
use_saved_offset_time: 0
YAML
"$kcp" validate --config conf/kcp.yaml
echo "release check passed: $(stat -c %s "$kcp") bytes"
