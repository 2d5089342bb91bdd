#!/usr/bin/env bash
# Checks the container image (run by .ci/run): builds it with build.sh (SKIP_RELEASE=1 reuses the release build
# deploy/release/check.sh made), then checks that it runs as the non-root user kcp and that `kcp --version` and
# `kcp demo --messages 50` work in it. Any failure exits non-zero.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tag=${1:-localhost/kcp:dev}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${CONTAINERS_CONF:-}" ]; then
    export CONTAINERS_CONF="$work/containers.conf"
    printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\nnetns = "none"\n\n[engine]\nruntime = "runc"\n' \
        > "$CONTAINERS_CONF"
fi

deploy/container/build.sh "$tag"

echo "== podman run $tag: user"
user=$(podman run --rm --entrypoint /usr/bin/id "$tag" -u)
[ "$user" = 10001 ] || { echo "the image runs as uid $user, not 10001 (kcp)" >&2; exit 1; }

echo "== podman run $tag --version"
podman run --rm "$tag" --version

echo "== podman run $tag demo --messages 50"
timeout 180 podman run --rm "$tag" demo --messages 50 | tee "$work/demo.log"
grep -q '^Done: all 50 sample messages delivered' "$work/demo.log"
echo "container check passed"
