"""What the pipeline's jobs install and run, and how .ci/run runs them through gitlab-ci-local.

Each test here stands for one way the pipeline failed on GitLab while its YAML was valid
(issue 20): the install missing the extras the tests import, the job Python differing from the
image's, binaries the fault tests drive, the test job doing less than .ci/run, ``latest``
promoted before the scan, a build cache that held nothing.
"""

from __future__ import annotations

import ast
import functools
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.markers import Marker

from tests.deploy.test_gitlab_ci import _script_lines, jobs, load, resolve
from tests.support.services import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    return [sys.executable, "-m", "uv"]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _sync_flags(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[:2] == ["uv", "sync"], command
    return words[2:]


def python_install_command() -> str:
    lines = [line for line in load()[".python"]["before_script"] if line.startswith("uv sync")]
    assert len(lines) == 1, lines
    return lines[0]


def makefile_recipe(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert match, target
    return [line.strip() for line in match.group(1).splitlines()]


# --- 1. the install covers the imports -------------------------------------------------------


def test_the_jobs_install_what_make_install_dev_installs() -> None:
    recipe = [line for line in makefile_recipe("install-dev") if "sync" in line]
    assert len(recipe) == 1
    make_flags = _sync_flags(recipe[0].replace("$(UV)", "uv"))
    assert sorted(_sync_flags(python_install_command())) == sorted(make_flags)


@functools.cache
def _imported_top_level_modules() -> frozenset[str]:
    local = {p.stem for p in ROOT.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "*.py"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    names: set[str] = set()
    for rel in filter(None, tracked.split("\0")):
        tree = ast.parse((ROOT / rel).read_text(), rel)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("importorskip", "import_module")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names.add(node.args[0].value.split(".")[0])
    return frozenset(n for n in names if n not in sys.stdlib_module_names and n not in local)


def _distributions_installed_by(flags: list[str]) -> set[str]:
    export = subprocess.run(
        [*_uv(), "export", "--no-hashes", "--no-emit-project", *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        _normalise(re.split(r"[=<>;\[ ]", line, maxsplit=1)[0])
        for line in export.splitlines()
        if line and not line.startswith(("#", " ", "-"))
    }


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    return dict(packages_distributions())


def _missing_distributions(flags: list[str]) -> dict[str, list[str]]:
    by_module = _packages_distributions()
    installed = _distributions_installed_by(flags)
    missing: dict[str, list[str]] = {}
    for module in sorted(_imported_top_level_modules()):
        dists = [_normalise(d) for d in by_module.get(module, [])]
        assert dists, f"{module} is imported but no installed distribution provides it"
        if not set(dists) & installed:
            missing[module] = dists
    return missing


def test_the_jobs_install_everything_the_code_and_tests_import() -> None:
    assert _missing_distributions(_sync_flags(python_install_command())) == {}


def test_the_import_check_notices_a_missing_extra() -> None:
    """Without --all-extras (the pipeline before issue 20) the yfinance extra is missing: the
    live-provider tests import yfinance and curl_cffi (its HTTP session)."""
    missing = _missing_distributions(["--frozen"])
    assert {"yfinance", "curl_cffi"} <= set(missing)


# --- 2. Python versions ----------------------------------------------------------------------


def supported_versions() -> list[str]:
    classifiers = PYPROJECT["project"]["classifiers"]
    return [
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]


def test_supported_versions_are_declared_once_and_agree() -> None:
    versions = supported_versions()
    assert versions == ["3.11", "3.12"]
    assert PYPROJECT["project"]["requires-python"] == f">={versions[0]}"
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert lock["requires-python"] == f">={versions[0]}"
    readme = (ROOT / "README.md").read_text()
    line = re.search(r"^Supported Python versions: ((?:3\.\d+(?:, | and )?)+)\.", readme, re.M)
    assert line, "README names the supported Python versions"
    assert re.findall(r"3\.\d+", line.group(1)) == versions
    ruff_target = PYPROJECT["tool"]["ruff"]["target-version"]
    assert ruff_target == "py" + versions[0].replace(".", "")


def test_the_jobs_run_the_production_python() -> None:
    image = re.search(
        r"^ARG PYTHON_IMAGE=python:(3\.\d+)-", (ROOT / "Dockerfile").read_text(), re.M
    )
    assert image, "Dockerfile pins its Python image"
    production = image.group(1)
    python = load()[".python"]
    assert python["image"].startswith(f"python:{production}-")
    assert python["variables"]["UV_PYTHON"] == production


def test_ci_run_tests_every_supported_version() -> None:
    """.ci/run: `make test` on the oldest, the GitLab jobs (through gitlab-ci-local) on the image's."""
    run = (ROOT / ".ci" / "run").read_text()
    host = re.search(r"^export UV_PYTHON=(3\.\d+)$", run, re.MULTILINE)
    assert host, ".ci/run pins the Python of `make test`"
    jobs_line = re.search(r"tools/gitlab-ci-local\.sh run ([\w ]+)$", run, re.MULTILINE)
    assert jobs_line, ".ci/run runs GitLab jobs through gitlab-ci-local"
    assert set(jobs_line.group(1).split()) >= {"lint", "typecheck", "test"}
    assert re.search(r"^make test( \|\| make_status=\$\?)?$", run, re.MULTILINE)
    assert re.search(r"^\.venv/bin/mypy \.$", run, re.MULTILINE), "mypy on make test's Python"
    # The jobs leave out only what `make test` runs beside them, in their own subshell (with
    # their own Redis database); `make test` itself runs everything, with nothing narrowed.
    jobs = re.search(r"^\($\n(.*?)^\) >", run, re.MULTILINE | re.DOTALL)
    assert jobs, ".ci/run runs the GitLab jobs in a subshell of their own"
    assert "gitlab-ci-local.sh run" in jobs.group(1)
    assert re.findall(r"export PYTEST_ADDOPTS=(.*)$", jobs.group(1), re.MULTILINE) == [
        """'-m "not browser" --ignore=tests/deploy'"""
    ]
    assert "TEST_REDIS_URL=redis://127.0.0.1:6379/14" in jobs.group(1)
    assert run.count("PYTEST_ADDOPTS") == 1
    assert {host.group(1), load()[".python"]["variables"]["UV_PYTHON"]} == set(supported_versions())


def test_the_lock_is_current_for_every_supported_version() -> None:
    done = subprocess.run([*_uv(), "lock", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    export = subprocess.run(
        [*_uv(), "export", "--frozen", "--no-hashes", "--all-extras"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # One lock, resolved per Python where wheels differ (numpy 2.5 needs 3.12): each supported
    # version gets a numpy, so the markers leave none of them out.
    numpy_markers = [line for line in export.splitlines() if line.startswith("numpy==")]
    assert numpy_markers
    for version in supported_versions():
        env = {"python_full_version": f"{version}.0", "python_version": version}
        chosen = [line for line in numpy_markers if _marker_holds(line, env)]
        assert len(chosen) == 1, (version, numpy_markers)


def _marker_holds(line: str, env: dict[str, str]) -> bool:
    if ";" not in line:
        return True
    return Marker(line.split(";", 1)[1].strip()).evaluate(env)


# --- 3. the fault tests' binaries ------------------------------------------------------------

# Binaries the tests start, by the name they look for.
TEST_BINARIES = {"chromium", "sshd", "ssh", "curl", "wrk", "redis-server", "initdb", "pg_ctl"}


def test_every_binary_the_tests_look_for_is_listed() -> None:
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        found.update(re.findall(r"_(?:need|pg_bin)\(\"([\w-]+)\"\)", path.read_text()))
    assert {"redis-server", "initdb", "pg_ctl"} <= found
    assert found <= TEST_BINARIES


def _binary_path(name: str) -> str | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if candidates:
        return str(candidates[-1])
    for directory in ("/usr/sbin", "/usr/bin"):
        if Path(directory, name).exists():
            return str(Path(directory, name))
    return shutil.which(name)


def _dpkg(*args: str) -> str:
    return subprocess.run(["dpkg-query", *args], capture_output=True, text=True, check=True).stdout


def _installed_depends() -> dict[str, set[str]]:
    """Every installed package's Depends and Pre-Depends, by package name."""
    depends: dict[str, set[str]] = {}
    for line in _dpkg("-W", "-f", "${Package}\t${Depends},${Pre-Depends}\n").splitlines():
        package, _, field = line.partition("\t")
        names = {re.split(r"[ (:]", alt.strip(), maxsplit=1)[0] for alt in re.split(r"[,|]", field)}
        depends.setdefault(package, set()).update(names - {""})
    return depends


def test_system_deps_installs_the_packages_that_provide_them() -> None:
    """Owner of each binary on this machine is a listed package or one it pulls in.

    `postgresql` brings the server binaries (postgresql-NN) and postgresql-common, which
    creates the `postgres` user the private clusters run as.
    """
    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian machine")
    listed = subprocess.run(
        ["bash", "tools/system-deps.sh", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    depends = _installed_depends()
    closure = set(listed)
    for _ in range(2):
        closure |= set().union(*(depends.get(package, set()) for package in closure))
    assert "postgresql-common" in closure
    for binary in sorted(TEST_BINARIES):
        path = _binary_path(binary)
        if path is None:
            if REQUIRE_SERVICES:
                pytest.fail(f"{binary} is not installed (VAULT_REQUIRE_SERVICES=1)")
            pytest.skip(f"{binary} is not installed: cannot tell its package")
        owners = _dpkg("-S", str(Path(path).resolve())).split(":", 1)[0]
        assert {o.strip() for o in owners.split(",")} & closure, (binary, owners, listed)


# --- 4. the test job does what .ci/run did ---------------------------------------------------


def test_the_test_job_runs_the_suite_the_postgres_pass_and_the_audits() -> None:
    test = resolve(load(), "test")
    script = test["script"]
    assert script[0] == "bash tools/system-deps.sh"
    assert any(re.fullmatch(r"uv run --no-sync python -m pytest --junitxml=\S+", s) for s in script)
    postgres = [s for s in script if s.startswith("DATABASE_URL=")]
    assert postgres == [
        'DATABASE_URL="$POSTGRES_DATABASE_URL" uv run --no-sync python -m pytest -q'
        ' -m "not browser and not slow" tests'
    ]
    assert test["variables"]["POSTGRES_DATABASE_URL"].startswith("postgres://postgres@postgres:")
    assert "bash tools/security-audit.sh" in script
    assert test["variables"]["VAULT_REQUIRE_SERVICES"] == "1"


# --- 5. latest only after the scan ------------------------------------------------------------


def _needs(data: dict[str, Any], name: str) -> set[str]:
    direct = {n["job"] if isinstance(n, dict) else n for n in resolve(data, name).get("needs", [])}
    return direct.union(*(_needs(data, n) for n in direct)) if direct else set()


def test_latest_moves_only_after_the_scan_passed() -> None:
    data = load()
    movers = [
        name
        for name in jobs(data)
        if not name.startswith(".")
        and any(":latest" in line for line in _script_lines(resolve(data, name)))
    ]
    assert movers == ["promote_latest"]
    assert {"build_image", "scan_image"} <= _needs(data, "promote_latest")
    assert "build_image" in _needs(data, "scan_image")
    # The scan gates: it fails the job (and so skips the promotion) on a finding.
    assert any("--exit-code 1" in s for s in resolve(data, "scan_image")["script"])
    assert resolve(data, "promote_latest").get("allow_failure") is not True
    assert resolve(data, "scan_image").get("allow_failure") is not True
    # It promotes nothing the scan did not look at.
    scan_rules = resolve(data, "scan_image")["rules"]
    assert all(rule in scan_rules for rule in resolve(data, "promote_latest")["rules"])


# --- 6. the build cache ----------------------------------------------------------------------


def _cache_refs(value: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in value.split(","))


def test_the_build_cache_holds_every_stage() -> None:
    build = resolve(load(), "build_image")
    script = build["script"]
    assert any("buildx create" in s and "--driver docker-container" in s for s in script)
    command = next(s for s in script if "buildx build" in s)
    words = shlex.split(command)
    cache_from = _cache_refs(words[words.index("--cache-from") + 1])
    cache_to = _cache_refs(words[words.index("--cache-to") + 1])
    assert cache_from["type"] == cache_to["type"] == "registry"
    assert cache_from["ref"] == cache_to["ref"] == "$BUILD_CACHE"
    # mode=max exports the build stage's layers too, not only the final image's.
    assert cache_to["mode"] == "max"
    assert "--push" in words
    assert build["variables"]["BUILD_CACHE"] != build["variables"]["APP_IMAGE"]


# --- running the jobs here -------------------------------------------------------------------


def test_the_local_pipeline_is_the_real_one_without_images_and_services(tmp_path: Path) -> None:
    out = tmp_path / "pipeline.yml"
    subprocess.run(["bash", "tools/gitlab-ci-local.sh", "pipeline", str(out)], cwd=ROOT, check=True)
    local = yaml.safe_load(out.read_text())
    real = load()
    assert local.keys() == real.keys()
    assert "services" in real["test"] and "image" in real[".python"]
    for name, job in real.items():
        if isinstance(job, dict) and name != "variables":
            stripped = {k: v for k, v in job.items() if k not in ("image", "services")}
            assert local[name] == stripped, name
        else:
            assert local[name] == job, name


def test_gitlab_ci_local_is_pinned() -> None:
    script = (ROOT / "tools" / "gitlab-ci-local.sh").read_text()
    assert re.search(r"^GCL_VERSION=4\.65\.1$", script, re.MULTILINE)
    assert '"gitlab-ci-local@$GCL_VERSION"' in script
    run = (ROOT / ".ci" / "run").read_text()
    assert "bash tools/gitlab-ci-local.sh install" in run
