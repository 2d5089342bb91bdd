#!/usr/bin/env bash
# Builds kcp's container image with podman, offline from everything but the Debian mirror and NuGet:
#
#   deploy/container/build.sh [TAG]      default TAG: localhost/kcp:dev
#
# 1. the base, localhost/kcp-base:bookworm, once: Debian 12 minbase with libssl3, libsasl2-2, ca-certificates and
#    tzdata, made by mmdebstrap from this machine's Debian mirror (/etc/apt/sources.list*) and imported with
#    `podman import` (REBUILD_BASE=1 makes it again);
# 2. the single file, out/release/linux-x64/kcp, with deploy/release/build.sh (SKIP_RELEASE=1 uses the one there);
# 3. `podman build --pull=never` of deploy/container/Containerfile on that base.
#
# Needs root, podman with runc, mmdebstrap. Without CONTAINERS_CONF it writes one with this machine kind's
# settings: runc (crun refuses the hybrid cgroups), fixed ulimits and no network namespace set-up.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tag=${1:-localhost/kcp:dev}
base=localhost/kcp-base:bookworm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "${CONTAINERS_CONF:-}" ]; then
    export CONTAINERS_CONF="$work/containers.conf"
    cat > "$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"

[engine]
runtime = "runc"
CONF
fi

if [ "${REBUILD_BASE:-0}" = 1 ] || ! podman image exists "$base"; then
    echo "== mmdebstrap: $base"
    # The host's Debian sources (deb822 or one-line files naming debian.org), so the base comes from the same mirror.
    mapfile -t sources < <(grep -l 'debian\.org' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    if [ ${#sources[@]} -eq 0 ]; then
        sources=("http://deb.debian.org/debian")
    fi
    mmdebstrap --variant=minbase --quiet \
        --include=libssl3,libsasl2-2,ca-certificates,tzdata \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
        bookworm "$work/base.tar" "${sources[@]}"
    podman import --change 'CMD ["/bin/bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$work/base.tar" "$base" >/dev/null
fi

if [ "${SKIP_RELEASE:-0}" != 1 ] || [ ! -f out/release/linux-x64/kcp ]; then
    deploy/release/build.sh linux-x64
fi

echo "== podman build: $tag"
podman build --pull=never --network=none --build-arg "BASE=$base" -f deploy/container/Containerfile -t "$tag" .
podman image inspect --format '{{.Size}}' "$tag" | awk -v tag="$tag" '{ printf "%s: %d bytes (%d MiB)\n", tag, $1, $1 / 1048576 }'
