# Everyday commands. `make run` serves the embedded default; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
APP_PORT ?= 8000
APP_BIND_ADDRESS ?= 127.0.0.1
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
PY := $(VENV)/bin/python
export UV_LINK_MODE ?= copy

.PHONY: uv-bootstrap run install install-dev system-deps test test-fast lint format typecheck bench check-deploy publisher clean

uv-bootstrap:  ## uv itself, from PyPI, when the machine has none
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet 'uv>=0.5'

install: uv-bootstrap  ## runtime dependencies only (keeps dev tools if present)
	$(UV) sync --frozen --no-default-groups --inexact

install-dev: uv-bootstrap  ## runtime + dev + deploy groups, exactly as locked
	$(UV) sync --frozen --all-extras

system-deps:  ## Debian packages the tests drive: Chromium, OpenSSH, redis-server, PostgreSQL
	bash tools/system-deps.sh

run: install  ## serve the embedded default on APP_BIND_ADDRESS:APP_PORT (foreground)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@# Production (APP_ENV here or in .env) serves hashed names from the manifest that
	@# collectstatic writes; without it every page was a 500. Unchanged files are skipped.
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) -m daphne -b $(APP_BIND_ADDRESS) -p $(APP_PORT) vault_dash.asgi:application

publisher: install  ## the standalone publisher for the scaled-out layout
	$(PY) manage.py run_publisher

test: install-dev system-deps  ## the whole test suite
	$(PY) -m pytest

test-fast: install-dev
	$(PY) -m pytest -m "not browser and not slow" -x -q

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install-dev
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

typecheck: install-dev
	$(PY) -m mypy .

bench: install-dev  ## benchmarks that print ratios measured side by side
	$(PY) -m bench

check-deploy:
	$(PY) manage.py check --deploy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache staticfiles
