"""The bundled sample corpus as the local index's first content, built on first use."""

from __future__ import annotations

import threading

from ingestion.ingest import IngestReport, Progress, index_paths
from ingestion.sources import CORPUS_DIR, source_name, walk_files
from providers.base import Embedder
from providers.errors import ProviderError
from providers.local.sqlite_index import SqliteIndex

__all__ = ["ensure_sample_index"]

_sample_lock = threading.Lock()


def ensure_sample_index(
    index: SqliteIndex, embedder: Embedder, *, progress: Progress | None = None
) -> IngestReport | None:
    """Index the bundled `corpus/` when the index holds no documents; one COUNT query otherwise.

    An index built by another embedder (the hashing default of earlier versions, say) is rebuilt
    when it holds only the bundled corpus, which can be indexed again at no loss; an index holding
    the user's own documents is reported, never silently mixed or dropped.
    """
    if not _built_by_another(index) and index.document_count() > 0:
        return None
    with _sample_lock:  # two threads asking at once build it once
        if _built_by_another(index):
            if not set(index.document_hashes()) <= _sample_sources():
                recorded = index.embedder()
                raise ProviderError.configuration(
                    f"the local index at {index.path} was built with embedder '{recorded and recorded[0]}', "
                    f"not the configured '{embedder.model}': re-index your documents with "
                    "`pipeline index --recreate PATH...`, or set PIPELINE_LOCAL_EMBEDDER to the embedder that built it"
                )
            return index_paths(
                [CORPUS_DIR], index=index, embedder=embedder, base=CORPUS_DIR.parent, recreate=True, progress=progress
            )
        if index.document_count() > 0:
            return None
        if not CORPUS_DIR.is_dir():
            raise ProviderError.configuration(f"the sample corpus is missing at {CORPUS_DIR}")
        return index_paths([CORPUS_DIR], index=index, embedder=embedder, base=CORPUS_DIR.parent, progress=progress)


def _built_by_another(index: SqliteIndex) -> bool:
    recorded = index.embedder()
    return recorded is not None and recorded[0] != index.embedder_model


def _sample_sources() -> set[str]:
    return {source_name(path, CORPUS_DIR.parent) for path in walk_files([CORPUS_DIR])} if CORPUS_DIR.is_dir() else set()
