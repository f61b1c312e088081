#!/usr/bin/env bash
# Installs, configures and starts a real container engine on a fresh Debian machine of this
# kind (no systemd, no image registry reachable), then builds the local base image. Idempotent:
# each step checks first and does nothing when already done. Called by .ci/run.
#
#   bash tools/container-engine.sh          install + configure + start dockerd + base image
#   bash tools/container-engine.sh stop     stop the dockerd this script started
#
# Engine: Debian's docker.io (dockerd 20.10, containerd, runc) with Debian's docker-compose
# (1.29, the Python "v1" that runs as `docker-compose`). Chosen over Debian's podman 4.3
# because dockerd runs container health checks itself (podman needs systemd timers, which
# these machines lack) and so compose's `depends_on: condition: service_healthy` works, and
# because the fab flow drives the docker CLI as production hosts have it. See
# docs/deployment.md ("Container engine in CI").
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=/var/lib/vault-ci
PIDFILE=/run/vault-ci-dockerd.pid
LOG=/var/log/vault-ci-dockerd.log
DOCKER=/usr/bin/docker   # Debian's CLI: its `build` uses the daemon's BuildKit without buildx

if [ "${1:-}" = "stop" ]; then
  if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")"
    for _ in $(seq 1 30); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 1; done
    echo "container-engine: dockerd stopped"
  fi
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "container-engine: needs root (a rootful engine; CI runs as root)" >&2
  exit 1
fi

# 1. Debian packages: the engine, compose, the local registry the deploy tests pull from and
#    mmdebstrap for the base image.
packages=(docker.io docker-compose containerd runc iptables mmdebstrap docker-registry)
needed=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || needed+=("$pkg")
done
if [ ${#needed[@]} -gt 0 ]; then
  echo "container-engine: installing ${needed[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
fi

# 2. Daemon settings. The sandbox lacks CAP_SYS_RESOURCE, so containers must not ask for more
#    open files than the machine already grants (the default raise fails with
#    "setrlimit RLIMIT_NOFILE: operation not permitted").
mkdir -p /etc/docker "$STATE"
config='{
  "default-ulimits": {
    "nofile": {"Name": "nofile", "Soft": 20000, "Hard": 20000},
    "nproc": {"Name": "nproc", "Soft": 32768, "Hard": 32768}
  },
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "3"}
}'
if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$config" ]; then
  printf '%s\n' "$config" > /etc/docker/daemon.json
  restart=1
fi

# 3. Start dockerd (no systemd here): in the background, its pid in $PIDFILE.
running() { $DOCKER info >/dev/null 2>&1; }
if running && [ "${restart:-0}" = 1 ] && [ -s "$PIDFILE" ]; then
  bash "$0" stop
fi
if ! running; then
  echo "container-engine: starting dockerd (log: $LOG)"
  setsid dockerd --pidfile "$PIDFILE" >>"$LOG" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do running && break; sleep 0.5; done
  if ! running; then
    tail -n 20 "$LOG" >&2
    echo "container-engine: dockerd did not start" >&2
    exit 1
  fi
fi
echo "container-engine: $($DOCKER version --format 'dockerd {{.Server.Version}}'), $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"

# 4. The base image the Dockerfile builds on here (PYTHON_IMAGE).
DOCKER=$DOCKER bash tools/base-image.sh
