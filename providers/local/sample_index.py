"""The bundled sample corpus as the local index's first content, on first use.

Indexing it embeds every chunk (seconds of MiniLM on a small machine, paid by the first `pipeline ask`
of every new state folder), so the repository ships it indexed: `sample_index.sqlite` beside this
module holds its documents and chunks with their MiniLM vectors, nothing else. It is copied in when
it matches, file for file, what indexing `corpus/` here would write (the content hashes carry the
chunker version) and was made by the configured embedder; otherwise the corpus is indexed as before.

The local answerer's work on those chunks ships too: `sample_sentences.sqlite` holds the vector and
token states of every sentence and heading path it reads from them (what indexing prepares for it, 3 MB).
The answerer reads it in place, read-only, after the state folder's own file (`SentenceVectors`'s
`shipped`); its entries are keyed by model and text, so it can only answer for the texts it holds.
`python -m providers.local.sample_index` writes both again (a test says when it is due).
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.ingest import IngestReport, Progress, index_paths
from ingestion.sources import CORPUS_DIR, content_hash, source_name, walk_files
from providers.base import Embedder
from providers.errors import ProviderError
from providers.local.sqlite_index import SqliteIndex

if TYPE_CHECKING:
    from providers.local.minilm_embedder import MiniLMEmbedder

__all__ = ["SHIPPED_INDEX", "SHIPPED_SENTENCES", "corpus_hashes", "ensure_sample_index", "write_shipped_index"]

SHIPPED_INDEX = Path(__file__).with_name("sample_index.sqlite")
SHIPPED_SENTENCES = Path(__file__).with_name("sample_sentences.sqlite")

_sample_lock = threading.Lock()
log = logging.getLogger(__name__)


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
            index.reset()
        elif index.document_count() > 0:
            return None
        if not CORPUS_DIR.is_dir():
            raise ProviderError.configuration(f"the sample corpus is missing at {CORPUS_DIR}")
        copied = _copy_shipped(index, progress)
        if copied is not None:
            return copied if copied.indexed else None  # none: another process filled the index meanwhile
        return index_paths([CORPUS_DIR], index=index, embedder=embedder, base=CORPUS_DIR.parent, progress=progress)


def corpus_hashes() -> dict[str, str]:
    """source -> content hash of each file of `corpus/`, as an ingestion here would record them."""
    return {source_name(path, CORPUS_DIR.parent): content_hash(path.read_bytes()) for path in walk_files([CORPUS_DIR])}


def _copy_shipped(index: SqliteIndex, progress: Progress | None) -> IngestReport | None:
    """The shipped index copied into `index` when it is the corpus as it is here, by this embedder; else None."""
    began = time.perf_counter()
    try:
        with closing(sqlite3.connect(f"{SHIPPED_INDEX.resolve().as_uri()}?mode=ro", uri=True)) as shipped:
            meta = dict(shipped.execute("SELECT key, value FROM meta").fetchall())
            hashes = dict(shipped.execute("SELECT source, content_hash FROM documents").fetchall())
    except sqlite3.Error:  # not there (a trimmed install) or unreadable: index the corpus instead
        return None
    if meta.get("embedder_model") != index.embedder_model or hashes != corpus_hashes():
        log.debug("the shipped sample index does not match the corpus and embedder here: indexing the corpus")
        return None
    report = IngestReport(indexed=index.copy_from(SHIPPED_INDEX))
    if not report.indexed:
        return report
    report.chunks = index.chunk_count()
    report.seconds = time.perf_counter() - began
    if progress:
        progress(len(report.indexed), len(report.indexed))
    return report


def write_shipped_index(
    embedder: MiniLMEmbedder, path: Path = SHIPPED_INDEX, sentences: Path = SHIPPED_SENTENCES
) -> IngestReport:
    """Index `corpus/` with `embedder` (MiniLM) and keep its documents, chunks and meta alone at `path`, and the
    local answerer's sentences of those chunks, prepared as indexing prepares them, at `sentences`."""
    from providers.local.extractive import ExtractiveAnswerer
    from providers.local.sentence_vectors import SentenceVectors

    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "sentence-vectors.sqlite"
        answerer = ExtractiveAnswerer(SentenceVectors(embedder, prepared))
        try:
            with SqliteIndex(scratch, embedder=embedder, preparer=answerer) as built:
                report = index_paths([CORPUS_DIR], index=built, embedder=embedder, base=CORPUS_DIR.parent)
        finally:
            answerer.close()
        _keep(
            Path(scratch) / "index.sqlite",
            path,
            ("meta", "documents", "chunks"),
            # What says when and by what process it was written: the file changes only when its content does.
            tidy=(
                "DELETE FROM meta WHERE key IN ('generation', 'prepared_for')",
                "UPDATE documents SET indexed_at = ''",
            ),
        )
        _keep(prepared, sentences, ("embedded",))
    return report


def _keep(built: Path, out_path: Path, tables: tuple[str, ...], *, tidy: tuple[str, ...] = ()) -> None:
    """`tables` of the SQLite file `built`, alone in a new compact file at `out_path`."""
    out_path.unlink(missing_ok=True)
    with closing(sqlite3.connect(out_path)) as out:
        out.execute("ATTACH DATABASE ? AS built", (str(built),))
        for table in tables:
            out.execute(f"CREATE TABLE {table} AS SELECT * FROM built.{table}")
        for statement in tidy:
            out.execute(statement)
        out.commit()
        out.execute("DETACH DATABASE built")
    with closing(sqlite3.connect(out_path)) as out:
        out.execute("VACUUM")


def _built_by_another(index: SqliteIndex) -> bool:
    recorded = index.embedder()
    return recorded is not None and recorded[0] != index.embedder_model


def _sample_sources() -> set[str]:
    return {source_name(path, CORPUS_DIR.parent) for path in walk_files([CORPUS_DIR])} if CORPUS_DIR.is_dir() else set()


if __name__ == "__main__":
    from providers.local.minilm_embedder import MiniLMEmbedder

    written = write_shipped_index(MiniLMEmbedder())
    print(
        f"wrote {SHIPPED_INDEX} ({len(written.indexed)} files, {written.chunks} chunks) and {SHIPPED_SENTENCES}",
        file=sys.stderr,
    )
