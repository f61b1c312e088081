#!/bin/sh
# As the official image does: protected mode off, because the container's network (not
# Redis) decides who can connect; the compose file publishes no Redis port.
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  set -- redis-server "$@" --protected-mode no
fi
exec "$@"
