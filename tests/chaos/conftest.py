"""Chaos suite set-up: the `chaos` marker, and fixtures for hosts, webhooks and receivers that go down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.processes import Server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos: reliability under faults, crashes, duplicates, bad input and load (real processes)"
    )


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """`pipeline serve` factories on one data dir; every server is stopped at the end."""
    servers: list[Server] = []

    def make(**env: str) -> Server:
        server = Server(tmp_path / "data", env)
        servers.append(server)
        return server

    yield make
    for server in servers:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()
