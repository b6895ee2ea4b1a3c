"""Fixtures for the embedded retrieval and generation providers: an embedder, an empty index, the sample index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sample_index import ensure_sample_index
from providers.local.sqlite_index import SqliteIndex


@pytest.fixture(scope="session")
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def index(tmp_path: Path, embedder: HashingEmbedder) -> Iterator[SqliteIndex]:
    with SqliteIndex(tmp_path / "index", embedder=embedder) as opened:
        yield opened


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, embedder: HashingEmbedder) -> Iterator[SqliteIndex]:
    """The bundled corpus, indexed once for the session (read-only in tests)."""
    with SqliteIndex(tmp_path_factory.mktemp("sample"), embedder=embedder) as opened:
        ensure_sample_index(opened, embedder)
        yield opened
