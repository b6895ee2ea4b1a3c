"""Embedded (offline) providers: what serves each role when no Azure service is configured.

Retrieval and generation live here: `HashingEmbedder`, `SqliteIndex` (hybrid keyword + vector
search), `ExtractiveAnswerer`, and ingestion (`index_paths`, `ensure_sample_index`). Names are
resolved lazily so that importing a sibling (the local queue or event sink) does not load numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from providers.local.extractive import ExtractiveAnswerer
    from providers.local.hashing_embedder import HashingEmbedder
    from providers.local.ingest import CORPUS_DIR, IngestReport, ensure_sample_index, index_paths
    from providers.local.sqlite_index import SqliteIndex

__all__ = [
    "CORPUS_DIR",
    "ExtractiveAnswerer",
    "HashingEmbedder",
    "IngestReport",
    "SqliteIndex",
    "ensure_sample_index",
    "index_paths",
]

_HOMES = {
    "CORPUS_DIR": "ingest",
    "ExtractiveAnswerer": "extractive",
    "HashingEmbedder": "hashing_embedder",
    "IngestReport": "ingest",
    "SqliteIndex": "sqlite_index",
    "ensure_sample_index": "ingest",
    "index_paths": "ingest",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
