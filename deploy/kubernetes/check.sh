#!/usr/bin/env bash
# Checks deploy/kubernetes (run by .ci/run): validates every manifest offline against the Kubernetes and KEDA schemas
# (validate/validate.mjs, npm packages pinned by validate/package-lock.json), then runs `kcp validate` on the
# ConfigMaps' kcp.yaml and routes in the container image (default localhost/kcp:dev, built by
# deploy/container/build.sh) with the files mounted where the StatefulSet mounts them and a read-only root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
image=${1:-localhost/kcp:dev}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== npm ci (deploy/kubernetes/validate)"
(cd validate && npm ci --no-audit --no-fund --loglevel=error)

echo "== validate.mjs"
node validate/validate.mjs --write-config "$work/files"

echo "== kcp validate in $image"
if [ -z "${CONTAINERS_CONF:-}" ]; then
    export CONTAINERS_CONF="$work/containers.conf"
    printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\nnetns = "none"\n\n[engine]\nruntime = "runc"\n' \
        > "$CONTAINERS_CONF"
fi
podman image exists "$image" || { echo "no image $image: run deploy/container/build.sh first" >&2; exit 1; }
chmod -R a+rX "$work/files"
podman run --rm --read-only --tmpfs /tmp \
    -v "$work/files/etc/kcp:/etc/kcp:ro" -v "$work/files/etc/kcp-routes:/etc/kcp-routes:ro" \
    -v "$work/files/etc/kcp-secrets:/etc/kcp-secrets:ro" \
    "$image" validate --config /etc/kcp/kcp.yaml
echo "kubernetes check passed"
