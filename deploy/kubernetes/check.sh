#!/usr/bin/env bash
# Checks deploy/kubernetes (run by .ci/run): validates every manifest offline against the Kubernetes and KEDA schemas
# (validate/validate.mjs, npm packages pinned by validate/package-lock.json), then runs `kcp validate` on the
# ConfigMaps' kcp.yaml and routes in the container image (default localhost/kcp:dev, built by
# deploy/container/build.sh) with the files mounted where the StatefulSet mounts them and a read-only root, and
# starts it that way to check the probes' answers and the clean stop.
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

echo "== kcp run in $image as the pod runs it: /healthz and /readyz"
# The same mounts, a read-only root and a tmpfs at /tmp; no Kafka is reachable (no network), so the process serves
# (/healthz 200) but its route cannot join its group (/readyz 503).
name="kcp-check-$$"
podman run -d --name "$name" --read-only --tmpfs /tmp \
    -v "$work/files/etc/kcp:/etc/kcp:ro" -v "$work/files/etc/kcp-routes:/etc/kcp-routes:ro" \
    -v "$work/files/etc/kcp-secrets:/etc/kcp-secrets:ro" \
    "$image" >/dev/null
trap 'podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
status_of() {
    # bash's /dev/tcp inside the container (the image has no curl); prints the status code of GET $1.
    podman exec "$name" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9464 && printf "GET %s HTTP/1.0\r\n\r\n" "$1" >&3 && head -n 1 <&3' _ "$1" \
        2>/dev/null | awk '{ print $2 }'
}
healthz=""
for _ in $(seq 1 60); do
    healthz=$(status_of /healthz || true)
    [ "$healthz" = 200 ] && break
    if [ "$(podman inspect -f '{{.State.Running}}' "$name")" != true ]; then
        podman logs "$name" >&2
        echo "kcp exited in the container" >&2
        exit 1
    fi
    sleep 1
done
[ "$healthz" = 200 ] || { podman logs "$name" >&2; echo "/healthz answered '$healthz', not 200" >&2; exit 1; }
readyz=$(status_of /readyz || true)
[ "$readyz" = 503 ] || { podman logs "$name" >&2; echo "/readyz answered '$readyz', not 503 without Kafka" >&2; exit 1; }
echo "/healthz 200, /readyz 503 (no Kafka)"
podman stop -t 30 "$name" >/dev/null
code=$(podman inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || { podman logs "$name" >&2; echo "kcp exited $code on SIGTERM, not 0" >&2; exit 1; }
echo "stopped cleanly on SIGTERM"
echo "kubernetes check passed"
