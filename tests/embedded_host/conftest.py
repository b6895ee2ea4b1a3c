"""Fixtures for the embedded host tests: the test app folder, a marker directory, a running host."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

APPS = Path(__file__).parent / "apps"
BASIC_APP = APPS / "basic"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end tests through real processes and sockets (slower)")


@pytest.fixture
def marker_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    monkeypatch.setenv("TEST_MARKER_DIR", str(path))
    return path


@pytest.fixture
def run_host(tmp_path: Path, marker_dir: Path) -> Callable[[Callable[[Any], Awaitable[Any]]], Any]:
    """Run ``scenario(host)`` inside a started EmbeddedHost on the basic app (fresh data dir per test)."""
    from embedded_host import EmbeddedHost

    def runner(scenario: Callable[[Any], Awaitable[Any]], data_dir: Path | None = None) -> Any:
        async def main() -> Any:
            async with EmbeddedHost(BASIC_APP, data_dir or tmp_path / "data") as host:
                return await scenario(host)

        return asyncio.run(main())

    return runner


@pytest.fixture(autouse=True)
def _queue_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    os.environ.setdefault("TEST_QUEUE", "test-questions")
