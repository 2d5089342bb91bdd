#!/usr/bin/env bash
# Checks deploy/systemd/kcp.service with `systemd-analyze verify` (run by .ci/run), with ExecStart and ExecReload
# pointing at the release build (verify needs the executables to exist), and its exposure score with
# `systemd-analyze security --offline`. Any warning fails the check.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found (apt-get install systemd)" >&2; exit 1; }
kcp="$PWD/out/release/linux-x64/kcp"
[ -x "$kcp" ] || { echo "no $kcp: run deploy/release/build.sh linux-x64 first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/kcp|$kcp|g" deploy/systemd/kcp.service > "$work/kcp.service"
output=$(systemd-analyze verify --man=no "$work/kcp.service" 2>&1) || { echo "$output" >&2; exit 1; }
# verify exits 0 on some warnings (unknown keys, bad values it ignores): fail on any line naming the unit.
if printf '%s\n' "$output" | grep -q 'kcp.service'; then
    echo "$output" >&2
    exit 1
fi
echo "systemd-analyze verify: kcp.service OK"
# The hardening: systemd's own exposure score (0 best, 10 worst) must stay at or under 2 (--threshold counts tenths).
systemd-analyze security --offline=yes --threshold=20 --no-pager "$work/kcp.service" | tail -n 1
grep -q '^ExecReload=.* reload ' deploy/systemd/kcp.service
echo "systemd check passed"
