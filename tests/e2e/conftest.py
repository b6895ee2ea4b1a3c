"""Fixtures for end-to-end tests: `pipeline serve` factories with short retry intervals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.processes import Server


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def make(app: Path | None = None, **env: str) -> Server:
        base = {"PIPELINE_RETRY_FIRST_INTERVAL_MS": "50", "PIPELINE_RETRY_MAX_INTERVAL_MS": "200"}
        server = Server(tmp_path / "data", {**base, **env}, app=app)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
