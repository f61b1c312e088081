#!/usr/bin/env bash
# Builds the local stand-in for python:3.12-slim-trixie from Debian's own packages
# (mmdebstrap, then `docker import`), because no image registry is reachable from these
# machines. Idempotent: an existing image with the same tag is kept unless --force is given.
#
#   bash tools/base-image.sh [--force]      -> vault-dash/python-base:trixie
#
# What differs from the official image (docs/deployment.md): Debian's python3 (3.13 on trixie)
# under /usr/bin instead of CPython 3.12 built into /usr/local; pip is Debian's python3-pip
# with the "externally managed" marker removed so the Dockerfile's `pip install uv` works as
# on the official image. Use it with: docker build --build-arg PYTHON_IMAGE=vault-dash/python-base:trixie
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${BASE_IMAGE:-vault-dash/python-base:trixie}"
SUITE="${BASE_SUITE:-trixie}"
MIRROR="${BASE_MIRROR:-http://deb.debian.org/debian}"
docker_cli="${DOCKER:-docker}"

if [ "${1:-}" != "--force" ] && $docker_cli image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base-image: $IMAGE exists (use --force to rebuild)"
  exit 0
fi
command -v mmdebstrap >/dev/null || {
  echo "base-image: mmdebstrap is missing (bash tools/container-engine.sh installs it)" >&2
  exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
# minbase: Essential + apt; then only what python:3.12-slim ships in spirit (Python, pip,
# CA certificates, time zones). Docs, man pages and non-English locales are left out like
# the official slim images do. The standard library keeps its compiled bytecode (Debian
# compiles it at install time): the app runs on a read-only root and could not write it.
mmdebstrap --quiet --variant=minbase --mode=root \
  --include=python3,python3-pip,python-is-python3,ca-certificates,tzdata \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  "$SUITE" "$work/rootfs.tar" "deb $MIRROR $SUITE main" \
  "deb ${MIRROR%/debian}/debian-security $SUITE-security main"

$docker_cli import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  --message "Debian $SUITE minbase + python3 from Debian packages (tools/base-image.sh)" \
  "$work/rootfs.tar" "$IMAGE" >/dev/null
echo "base-image: built $IMAGE in $(( $(date +%s) - started ))s ($($docker_cli image inspect -f '{{.Size}}' "$IMAGE") bytes)"
