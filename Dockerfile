# Vault Dashboard image: a venv built from uv.lock (runtime dependencies only), static files
# collected at build time, served by daphne as a non-root user. See docs/deployment.md.
#
# No `# syntax=` line: BuildKit's built-in Dockerfile frontend handles everything below
# (RUN --mount), so an offline build never has to fetch a frontend image from a registry.
#
# PYTHON_IMAGE: python:3.12-slim-trixie in production (the tag python:3.12-slim points to
# today, pinned to its Debian release); CI on machines without an image registry builds on
# vault-dash/python-base:trixie, made from Debian packages by tools/base-image.sh.

ARG PYTHON_IMAGE=python:3.12-slim-trixie

# --- build: the virtualenv and the collected static files ----------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# build_ca (optional BuildKit secret): the CA bundle of a machine whose way to PyPI goes
# through a TLS-inspecting proxy; `--secret id=build_ca,src=/etc/ssl/certs/ca-certificates.crt`.
# It is mounted for these RUN steps only and never stored in a layer.
RUN --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export PIP_CERT=/run/secrets/build_ca; fi; \
    pip install --no-cache-dir uv==0.13.9

WORKDIR /app

# Dependencies first so this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock ./
# Then drop what the running app never loads (measured in docs/benchmarks.md):
# - numpy's and scipy's test suites, type stubs and C headers (only there: other packages read
#   files of theirs at import time, autobahn its .c file);
# - the scipy subpackages that `import scipy.special` does not load: the app uses only
#   scipy.special.ndtr (the smoke test after COPY below imports the modules that use it);
# - Django's translations: USE_I18N is False, so no .mo file is ever read (formats.py stays).
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export SSL_CERT_FILE=/run/secrets/build_ca; fi; \
    uv sync --frozen --no-default-groups --no-install-project \
    && site=$(echo /app/.venv/lib/python3*/site-packages) \
    && find "$site/numpy" "$site/scipy" -depth -type d -name tests -exec rm -rf {} + \
    && find "$site/numpy" "$site/scipy" \( -name "*.pyi" -o -name "*.h" -o -name "*.pxd" \) -delete \
    && rm -rf "$site/numpy/_core/include" \
    && keep=$(/app/.venv/bin/python -c "import sys, scipy.special; print(' '.join(sorted({m.split('.')[1] for m in sys.modules if m.startswith('scipy.')})))") \
    && for sub in "$site"/scipy/*/; do \
         name=$(basename "$sub"); \
         case " $keep " in *" $name "*) ;; *) [ "$name" = __pycache__ ] || rm -rf "$sub" ;; esac; \
       done \
    && find "$site/django" -type d -name LC_MESSAGES -prune -exec rm -rf {} + \
    && /app/.venv/bin/python -c "import scipy.special, django; scipy.special.ndtr(0.0)"

COPY . .

# collectstatic needs the production static storage (whitenoise manifest). The values below
# exist only for this one RUN step: they are not secrets, never part of the image's ENV, and
# the app refuses to start without real ones.
RUN APP_ENV=production \
    DJANGO_SETTINGS_MODULE=vault_dash.settings.base \
    ENV_FILE=/nonexistent/.env \
    DATA_DIR=/tmp/build-data \
    ALLOWED_HOSTS=build.invalid \
    NICEGUI_STORAGE_SECRET=collectstatic-at-build-time-only-not-a-secret-0123456789abcdef \
    /app/.venv/bin/python manage.py collectstatic --noinput --verbosity 1 \
    && /app/.venv/bin/python -c "import market.pricing, market.iv, market.analytics" \
    && /app/.venv/bin/python -m compileall -q -j 0 \
       vault_dash market portfolio strategies deploy manage.py >/dev/null \
    && rm -rf /tmp/build-data

# --- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG APP_VERSION=""
LABEL org.opencontainers.image.title="Vault Dashboard" \
      org.opencontainers.image.description="Self-hosted options-hedging dashboard (Django + Channels + HTMX)" \
      org.opencontainers.image.version="${APP_VERSION}"

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=vault_dash.settings.base \
    APP_ENV=production \
    APP_BIND_ADDRESS=0.0.0.0 \
    APP_PORT=8000 \
    DATA_DIR=/data \
    APP_VERSION=${APP_VERSION}

# pip (and with it a second copy of certifi, urllib3, rich...) is for building, not running.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin app \
    && install -d -o app -g app -m 0750 /data \
    && (python -m pip uninstall -y -q pip >/dev/null 2>&1 || true)

WORKDIR /app
# Code stays root-owned and read-only for the app user; only /data is writable.
COPY --from=build /app /app

USER 10001:10001
EXPOSE 8000
VOLUME ["/data"]

# The HTTP probe is for the default `serve` command (and `web`); the compose file gives
# the publisher a check of its own (deploy/publisher_health.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["serve"]
