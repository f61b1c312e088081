#!/usr/bin/env bash
# Installs the Debian packages the test suite drives (idempotent, quick when present):
# Chromium for the Playwright browser tests, OpenSSH server and client for the deploy tests,
# curl and wrk for the load checks, nginx for tests/deploy/test_nginx.py, redis-server and
# PostgreSQL (initdb, pg_ctl and the `postgres` user) for the fault tests, which start private
# servers of their own. `tools/system-deps.sh --list` prints the packages and installs nothing.
set -euo pipefail
packages=(chromium openssh-server openssh-client curl wrk nginx-light redis-server postgresql)
if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
needed=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || needed+=("$pkg")
done
[ ${#needed[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
echo "system-deps: installing ${needed[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
