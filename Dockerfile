# syntax=docker/dockerfile:1.7
# Vault Dashboard image: a venv built from uv.lock (runtime dependencies only), static files
# collected at build time, served by daphne as a non-root user. See docs/deployment.md.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- build: the virtualenv and the collected static files ----------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /app

# Dependencies first so this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --no-install-project

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

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin app \
    && install -d -o app -g app -m 0750 /data

WORKDIR /app
# Code stays root-owned and read-only for the app user; only /data is writable.
COPY --from=build /app /app

USER 10001:10001
EXPOSE 8000
VOLUME ["/data"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["serve"]
