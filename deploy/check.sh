#!/usr/bin/env bash
# Every deployment check, in order; .ci/run runs it after the tests. Each check's output is printed; the script
# exits non-zero when any check failed, after running the others.
#
#   deploy/check.sh
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
checks=(
    deploy/release/check.sh
    deploy/container/check.sh
    deploy/kubernetes/check.sh
    deploy/systemd/check.sh
)
failed=()
for check in "${checks[@]}"; do
    echo "== $check"
    started=$SECONDS
    if [ "$check" = deploy/container/check.sh ]; then
        # The release check has just built out/release/linux-x64/kcp.
        SKIP_RELEASE=1 "$check"
    else
        "$check"
    fi
    status=$?
    echo "== $check: exit code $status after $((SECONDS - started)) s"
    [ "$status" -eq 0 ] || failed+=("$check")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "deployment checks failed: ${failed[*]}" >&2
    exit 1
fi
echo "deployment checks passed"
