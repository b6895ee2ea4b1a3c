"""Embedded (offline) providers: what serves each role when no Azure service is configured.

`HashingEmbedder` and `MiniLMEmbedder` (embeddings), `SqliteIndex` (hybrid keyword + vector search,
and an `ingestion.ingest.IndexWriter`), `ensure_sample_index` (the bundled corpus on first use),
`ExtractiveAnswerer` (answers), and the event sink with its webhook outbox. Names are resolved
lazily so that importing a sibling (the event sink, say) does not load numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from providers.local.extractive import ExtractiveAnswerer
    from providers.local.hashing_embedder import HashingEmbedder
    from providers.local.sample_index import ensure_sample_index
    from providers.local.sqlite_index import SqliteIndex

__all__ = ["ExtractiveAnswerer", "HashingEmbedder", "SqliteIndex", "ensure_sample_index"]

_HOMES = {
    "ExtractiveAnswerer": "extractive",
    "HashingEmbedder": "hashing_embedder",
    "SqliteIndex": "sqlite_index",
    "ensure_sample_index": "sample_index",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
