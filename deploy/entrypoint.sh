#!/bin/sh
# Container entrypoint for the Vault Dashboard image.
#
#   serve      (default) apply migrations under a lock, then run daphne in the same process
#              on APP_BIND_ADDRESS:APP_PORT (0.0.0.0:8000 inside the container)
#   migrate    only apply migrations (under the same lock)
#   publisher  the standalone market-data publisher (manage.py run_publisher)
#   web        gunicorn WSGI workers for plain HTTP (pages, API) in the scaled-out layout;
#              WEB_CONCURRENCY workers (default 2). Migrations are left to the app service.
#   anything else is exec'd as given, e.g. `python manage.py shell`
#
# SKIP_MIGRATIONS=1 skips the migration step of `serve` (e.g. for extra replicas when a
# release job migrates). `exec` makes the server PID 1 so it gets SIGTERM itself.
set -eu

cd "$(dirname "$0")/.."

command="${1:-serve}"
case "$command" in
  serve)
    # Migrations (under the lock) and daphne in one interpreter: see deploy/serve.py.
    exec python -m deploy.serve
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
    # --no-control-socket: gunicorn's control server wants a socket under $HOME, and the
    # root file system is read-only.
    exec python -m gunicorn --workers "${WEB_CONCURRENCY:-2}" --bind "0.0.0.0:${APP_PORT:-8000}" \
      --no-control-socket --forwarded-allow-ips "*" --access-logfile - --log-level warning \
      vault_dash.wsgi:application
    ;;
  *)
    exec "$@"
    ;;
esac
