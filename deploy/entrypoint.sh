#!/bin/sh
# Container entrypoint for the Vault Dashboard image.
#
#   serve      (default) apply migrations under a lock, then exec daphne on
#              APP_BIND_ADDRESS:APP_PORT (0.0.0.0:8000 inside the container)
#   migrate    only apply migrations (under the same lock)
#   publisher  the standalone market-data publisher (manage.py run_publisher)
#   anything else is exec'd as given, e.g. `python manage.py shell`
#
# SKIP_MIGRATIONS=1 skips the migration step of `serve` (e.g. for extra replicas when a
# release job migrates). `exec` makes daphne PID 1's child-free successor so it gets SIGTERM.
set -eu

cd "$(dirname "$0")/.."

command="${1:-serve}"
case "$command" in
  serve)
    if [ "${SKIP_MIGRATIONS:-0}" != "1" ]; then
      python -m deploy.migrate
    fi
    exec python -m daphne --proxy-headers \
      -b "${APP_BIND_ADDRESS:-0.0.0.0}" -p "${APP_PORT:-8000}" \
      vault_dash.asgi:application
    ;;
  migrate)
    exec python -m deploy.migrate
    ;;
  publisher)
    exec python manage.py run_publisher
    ;;
  *)
    exec "$@"
    ;;
esac
