"""Shared fixtures: every test gets its own data dir and fresh settings/providers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import Webhook


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_SEARCH_ENDPOINT",
        "EVENTGRID_TOPIC_ENDPOINT",
        "OPENAI_BASE_URL",
        "PIPELINE_EVENT_WEBHOOKS",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(tmp_path / "data"))
    from providers.factory import reset

    reset()
    yield
    reset()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A CloudEvents receiver on a loopback socket, for tests that run real processes."""
    hook = Webhook()
    yield hook
    hook.close()
