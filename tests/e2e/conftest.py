"""The seeded demo app that the browser tests walk through, one server per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import AppServer, run_app_server


@pytest.fixture(scope="module")
def server(request, tmp_path_factory) -> Iterator[AppServer]:
    """daphne over a migrated database with the demo seeded; a module that needs more data
    overrides this fixture and asks for it by the same name."""
    data = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with run_app_server({"DATA_DIR": str(data)}, seed=True) as srv:
        yield srv
