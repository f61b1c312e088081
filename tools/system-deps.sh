#!/usr/bin/env bash
# Installs the Debian packages the test suite drives (idempotent, quick when present):
# Chromium for the Playwright browser tests, OpenSSH server for the deploy tests, nginx for
# tests/deploy/test_nginx.py.
set -euo pipefail
needed=()
for pkg in chromium openssh-server openssh-client curl wrk nginx-light; do
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
