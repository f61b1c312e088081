""".gitlab-ci.yml: valid against GitLab's CI schema; stages, images and jobs as the deploy
design says; every file and fab task a job script names exists."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parent / "schemas"
SCHEMA = json.loads((SCHEMAS / "gitlab-ci.json").read_text())
RESERVED = {
    "stages",
    "variables",
    "workflow",
    "default",
    "include",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
}
FAB_TASKS = {"deploy", "rollback", "health", "status", "logs", "bootstrap", "unlock"}


def load() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    assert isinstance(data, dict)
    return data


def jobs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in data.items() if k not in RESERVED and isinstance(v, dict)}


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve(data: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with its ``extends`` chain merged (GitLab deep-merges mappings, replaces lists)."""
    job = dict(data[name])
    parents = job.pop("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _deep_merge(merged, resolve(data, parent))
    return _deep_merge(merged, job)


def test_resolve_deep_merges_variables_and_replaces_scripts() -> None:
    data = {
        ".base": {"variables": {"A": "1", "B": "1"}, "script": ["one"]},
        "job": {"extends": ".base", "variables": {"B": "2"}, "script": ["two"]},
    }
    assert resolve(data, "job") == {"variables": {"A": "1", "B": "2"}, "script": ["two"]}


def test_matches_the_gitlab_ci_schema() -> None:
    jsonschema.validate(load(), SCHEMA)


def test_schema_rejects_a_broken_pipeline() -> None:
    broken = load()
    broken["lint"]["when"] = "sometimes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_stages_images_and_jobs() -> None:
    data = load()
    assert data["stages"] == ["test", "build", "deploy"]
    real = {n: resolve(data, n) for n in jobs(data) if not n.startswith(".")}
    for name in ("lint", "typecheck", "test"):
        assert real[name]["stage"] == "test"
        assert real[name]["image"] == "python:3.12-slim"
    assert any(s["name"].startswith("redis:") for s in real["test"]["services"])
    assert real["test"]["variables"]["VAULT_REQUIRE_SERVICES"] == "1"
    for name in ("build_image", "promote_latest"):
        assert real[name]["image"] == "docker:27"
        assert real[name]["services"] == ["docker:27-dind"]
    scan = " ".join(real["scan_image"]["script"])
    assert "--severity HIGH,CRITICAL" in scan and "--exit-code 1" in scan
    for name in ("deploy_staging", "deploy_production", "rollback_production"):
        job = real[name]
        assert job["stage"] == "deploy"
        assert job["image"] == "python:3.12-alpine"
        apk = " ".join(job["before_script"])
        for pkg in ("bash", "openssh-client", "curl"):
            assert re.search(rf"\b{pkg}\b", apk), pkg
        # fab runs docker on the server over SSH; the job needs no docker client.
        assert "docker" not in apk
    assert real["deploy_staging"]["environment"]["name"] == "staging"
    assert real["deploy_production"]["environment"]["name"] == "production"
    for name in ("deploy_production", "rollback_production"):
        rules = real[name]["rules"]
        assert all(r.get("when") == "manual" for r in rules)
        assert all('$CI_COMMIT_REF_PROTECTED == "true"' in r["if"] for r in rules)
    assert "fab rollback" in " ".join(real["rollback_production"]["script"])


def test_passwords_only_on_stdin() -> None:
    text = (ROOT / ".gitlab-ci.yml").read_text()
    for line in text.splitlines():
        if "docker login" in line:
            assert "--password-stdin" in line and " -p " not in line


def _script_lines(job: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key in ("before_script", "script", "after_script"):
        for entry in job.get(key, []):
            lines.extend(str(entry).splitlines())
    return lines


def test_job_scripts_reference_files_and_tasks_that_exist() -> None:
    data = load()
    checked_files, checked_tasks = set(), set()
    for name in jobs(data):
        for line in _script_lines(resolve(data, name) if not name.startswith(".") else data[name]):
            try:
                words = shlex.split(line, comments=True)
            except ValueError:
                words = line.split()
            for i, word in enumerate(words):
                if word == "fab" and i + 1 < len(words):
                    assert words[i + 1] in FAB_TASKS, f"{name}: unknown fab task {words[i + 1]}"
                    checked_tasks.add(words[i + 1])
                if "$" in word or word.startswith(("-", "/", "@", "http")) or ":" in word:
                    continue
                if re.search(r"\.(sh|py|ya?ml|toml|lock|txt|cfg|ini)$", word) or word in (
                    "Dockerfile",
                ):
                    if word.endswith(".json") or word == "report.xml":
                        continue
                    assert (ROOT / word).exists(), f"{name}: {word} does not exist"
                    checked_files.add(word)
    # The check looked at something (so a regex slip cannot make it vacuous).
    assert {"Dockerfile", "tools/system-deps.sh"} <= checked_files
    assert {"deploy", "rollback"} <= checked_tasks
    import fabfile

    for task in checked_tasks:
        assert hasattr(fabfile, task)


def test_needs_and_extends_point_at_defined_jobs() -> None:
    data = load()
    defined = set(jobs(data))
    for name, job in jobs(data).items():
        for parent in (
            [job["extends"]] if isinstance(job.get("extends"), str) else job.get("extends", [])
        ):
            assert parent in defined, f"{name} extends unknown {parent}"
        for need in job.get("needs", []):
            target = need["job"] if isinstance(need, dict) else need
            assert target in defined, f"{name} needs unknown {target}"
