#!/bin/sh
# Container entrypoint for the Vault Dashboard image.
#
#   serve      (default) apply migrations under a lock, then exec daphne on
#              APP_BIND_ADDRESS:APP_PORT (0.0.0.0:8000 inside the container)
#   migrate    only apply migrations (under the same lock)
#   publisher  the standalone market-data publisher (manage.py run_publisher)
#   web        gunicorn WSGI workers for plain HTTP (pages, API) in the scaled-out layout;
#              WEB_CONCURRENCY workers (default 2). Migrations are left to the app service.
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
    # No --proxy-headers: daphne would take X-Forwarded-For from any client; the app reads it
    # from TRUSTED_PROXIES only (accounts/clientip.py).
    exec python -m daphne \
      -b "${APP_BIND_ADDRESS:-0.0.0.0}" -p "${APP_PORT:-8000}" \
      vault_dash.asgi:application
    ;;
  migrate)
    exec python -m deploy.migrate
    ;;
  publisher)
    exec python manage.py run_publisher
    ;;
  web)
    # Behind Caddy on the compose network; the proxy is the only client, so trust its
    # X-Forwarded-* headers.
    exec python -m gunicorn --workers "${WEB_CONCURRENCY:-2}" --bind "0.0.0.0:${APP_PORT:-8000}" \
      --forwarded-allow-ips "*" --access-logfile - --log-level warning \
      vault_dash.wsgi:application
    ;;
  *)
    exec "$@"
    ;;
esac
