""".dockerignore: the build context it leaves holds the code the image runs and nothing else.

The matcher follows BuildKit's rules (moby/patternmatcher): patterns are anchored at the context
root, ``*`` and ``?`` stop at ``/``, ``**`` spans directories, a pattern that matches a directory
also matches everything in it, ``!`` re-includes, and the last matching pattern wins.
"""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Pattern:
    text: str
    regex: re.Pattern[str]
    exclusion: bool


def compile_pattern(line: str) -> Pattern:
    exclusion = line.startswith("!")
    text = posixpath.normpath(line[1:].strip() if exclusion else line).lstrip("/")
    regex, i = "^", 0
    while i < len(text):
        ch = text[i]
        if text.startswith("**", i):
            i += 2
            if text.startswith("/", i):
                i += 1
            regex += ".*" if i >= len(text) else "(.*/)?"
            continue
        if ch == "*":
            regex += "[^/]*"
        elif ch == "?":
            regex += "[^/]"
        elif ch == "[":
            end = text.index("]", i)
            regex += text[i : end + 1]
            i = end
        elif ch == "\\" and i + 1 < len(text):
            i += 1
            regex += re.escape(text[i])
        else:
            regex += re.escape(ch)
        i += 1
    return Pattern(text, re.compile(regex + "$"), exclusion)


def load_patterns(text: str) -> list[Pattern]:
    return [
        compile_pattern(line.strip())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def excluded(path: str, patterns: list[Pattern]) -> bool:
    """Whether ``path`` (relative, ``/``-separated) stays out of the build context."""
    parents = [path]
    while "/" in parents[-1]:
        parents.append(parents[-1].rsplit("/", 1)[0])
    result = False
    for pattern in patterns:
        if any(pattern.regex.match(p) for p in parents):
            result = not pattern.exclusion
    return result


def build_context(root: Path, patterns: list[Pattern]) -> list[str]:
    """Every file the engine would send, skipping directories no exception can reach into."""
    exceptions = [p.text for p in patterns if p.exclusion]
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        for name in list(dirnames):
            path = prefix + name
            reachable = any(e.startswith(path + "/") or "*" in e for e in exceptions)
            if excluded(path, patterns) and not reachable:
                dirnames.remove(name)
        files.extend(prefix + f for f in filenames if not excluded(prefix + f, patterns))
    return sorted(files)


PATTERNS = load_patterns((ROOT / ".dockerignore").read_text())


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        ("*.log", "app.log", True),
        ("*.log", "logs/app.log", False),  # anchored at the root, unlike .gitignore
        ("**/*.log", "logs/deep/app.log", True),
        ("**/*.log", "app.log", True),
        ("data", "data/db/vault.sqlite3", True),  # a directory takes its contents along
        ("*/temp*", "somedir/temporary.txt", True),
        ("*/temp*", "somedir/sub/temporary.txt", False),
        ("temp?", "temp1", True),
        ("temp?", "temp12", False),
        ("**/.env\n!.env.example", ".env.example", False),
        ("**/.env.*\n!.env.example", ".env.local", True),
        ("!keep\n*", "keep", True),  # the last match wins
        (".venv*", ".venv-3.12/bin/python", True),
        ("/tests", "tests/test_x.py", True),
    ],
)
def test_matcher_follows_the_dockerignore_rules(patterns: str, path: str, expected: bool) -> None:
    assert excluded(path, load_patterns(patterns)) is expected


LOCAL_STATE = [
    ".cache/uv/archive-v0/abc/numpy/__init__.py",
    ".cache/gitlab-ci-local/node_modules/.bin/gitlab-ci-local",
    ".hypothesis/examples/0a1b/2c3d",
    ".gitlab-ci-local/builds/test/.venv/bin/python",
    ".gitlab-ci-local/cache/0_uv-1234/archive",
    "report.xml",
    "gl-container-scanning-report.json",
    ".trivycache/db/trivy.db",
    ".venv/lib/python3.11/site-packages/django/__init__.py",
    ".venv-3.12/pyvenv.cfg",
    "venv/pyvenv.cfg",
    ".mypy_cache/3.12/cache.db",
    "portfolio/.pytest_cache/v/cache/nodeids",
    ".ruff_cache/0.8.0/123",
    ".schemathesis/cassette.yaml",
    ".coverage",
    "htmlcov/index.html",
    "data/vault_dash.sqlite3",
    "vault_dash.sqlite3-journal",
    "staticfiles/staticfiles.json",
    "tests/conftest.py",
    "docs/deployment.md",
    ".env",
    "deploy/.env",
    "deploy/id_ed25519",
    ".git/HEAD",
    "market/__pycache__/pricing.cpython-312.pyc",
]

IMAGE_NEEDS = [
    "manage.py",
    "pyproject.toml",
    "uv.lock",
    "vault_dash/settings/base.py",
    "market/pricing.py",
    "portfolio/valuation.py",
    "strategies/__init__.py",
    "templates/base.html",
    "deploy/entrypoint.sh",
    "deploy/migrate.py",
    "deploy/healthcheck.py",
    ".env.example",
]


@pytest.mark.parametrize("path", LOCAL_STATE)
def test_local_state_and_secrets_stay_out(path: str) -> None:
    assert excluded(path, PATTERNS), path


@pytest.mark.parametrize("path", IMAGE_NEEDS)
def test_what_the_image_runs_goes_in(path: str) -> None:
    assert not excluded(path, PATTERNS), path


def test_a_tree_with_caches_gives_only_the_code(tmp_path: Path) -> None:
    for path in [*LOCAL_STATE, *IMAGE_NEEDS]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    assert build_context(tmp_path, PATTERNS) == sorted(IMAGE_NEEDS)


def _git(*args: str) -> list[str]:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True)
    return [p for p in done.stdout.decode().split("\0") if p]


def test_this_checkout_sends_nothing_git_ignores_and_no_venv() -> None:
    """The context of this very checkout, with whatever caches and venvs it holds now.

    What git ignores is local state by definition (caches, venvs, reports, data); none of it
    may reach the engine. Nor may a virtualenv under any name (its pyvenv.cfg gives it away).
    """
    context = build_context(ROOT, PATTERNS)
    assert "manage.py" in context and "uv.lock" in context
    ignored = _git("ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory")
    leaked = [
        f for f in context if any(f == i.rstrip("/") or f.startswith(i) for i in ignored if i)
    ]
    assert leaked == []
    assert [f for f in context if f.endswith("pyvenv.cfg")] == []
    tracked = set(_git("ls-files", "-z"))
    assert {"tests/conftest.py", "docs/deployment.md", ".gitlab-ci.yml"} <= tracked
    assert not {"tests/conftest.py", "docs/deployment.md", ".gitlab-ci.yml"} & set(context)
