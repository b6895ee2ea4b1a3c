"""Ingest documents into the local index, incrementally; and build the bundled sample index on first use.

A file is re-chunked and re-embedded only when its content hash (which also covers the chunker
version) differs from the one stored: unchanged files cost one hash, changed files have their
chunks replaced in one transaction, and files that disappeared are left in the index unless
`recreate` asks for a clean rebuild (a partial path list must not delete everything else).
Chunks are embedded in batches across files, which is what a remote embedder bills per call.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from providers.base import Embedder
from providers.errors import ProviderError
from providers.local.chunking import CHUNKER_VERSION, Chunk, ParsedDocument, chunk_document, kind_for
from providers.local.sqlite_index import ChunkRecord, SqliteIndex

__all__ = [
    "CORPUS_DIR",
    "IngestReport",
    "Progress",
    "content_hash",
    "embed_matrix",
    "embedding_text",
    "ensure_sample_index",
    "index_paths",
    "parse_file",
    "source_name",
    "walk_files",
]

CORPUS_DIR = Path(__file__).resolve().parents[2] / "corpus"

Progress = Callable[[int, int], None]  # (files done, files total)

_SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".pipeline"})
_sample_lock = threading.Lock()


@dataclass(slots=True)
class IngestReport:
    """What one ingestion did, per source."""

    indexed: list[str] = field(default_factory=list)  # new or changed, now (re)indexed
    skipped: list[str] = field(default_factory=list)  # unchanged since the last run
    failed: dict[str, str] = field(default_factory=dict)  # source -> why it could not be read
    chunks: int = 0  # chunks written
    seconds: float = 0.0

    @property
    def files(self) -> int:
        return len(self.indexed) + len(self.skipped) + len(self.failed)


@dataclass(slots=True)
class _Pending:
    source: str
    content_hash: str
    document: ParsedDocument
    vectors: list[np.ndarray] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return sum(len(v) for v in self.vectors) == len(self.document.chunks)


def index_paths(
    paths: Iterable[str | Path],
    *,
    index: SqliteIndex,
    embedder: Embedder,
    recreate: bool = False,
    progress: Progress | None = None,
    base: str | Path | None = None,
    batch_size: int = 64,
) -> IngestReport:
    """Index the supported files under `paths` (files or directories, walked recursively).

    Sources are recorded as absolute POSIX paths, or relative to `base` for files under it.
    Raises `ProviderError` when a path does not exist or the embedder does not match the index.
    """
    started = time.perf_counter()
    if embedder.model != index.embedder_model:
        raise ProviderError.configuration(
            f"ingesting with embedder '{embedder.model}' into an index opened for '{index.embedder_model}'"
        )
    files = walk_files(paths)
    base_dir = Path(base).resolve() if base is not None else None
    if recreate:
        index.reset()
    known = index.document_hashes()
    report = IngestReport()
    total = len(files)
    pending: list[_Pending] = []
    queue: list[tuple[_Pending, str]] = []  # chunks waiting for a batch: (document, text to embed)

    def embed(count: int) -> None:
        batch, queue[:] = queue[:count], queue[count:]
        matrix = embed_matrix(embedder, [text for _, text in batch])
        start = 0
        while start < len(batch):
            owner = batch[start][0]
            end = start
            while end < len(batch) and batch[end][0] is owner:
                end += 1
            owner.vectors.append(matrix[start:end])
            start = end

    def flush() -> None:
        while pending and pending[0].complete:
            item = pending.pop(0)
            _store(index, item)
            report.indexed.append(item.source)
            report.chunks += len(item.document.chunks)

    for done, path in enumerate(files, start=1):
        source = source_name(path, base_dir)
        try:
            raw = path.read_bytes()
        except OSError as error:
            report.failed[source] = f"cannot read: {error.strerror or error}"
        else:
            digest = content_hash(raw)
            if known.get(source) == digest:
                report.skipped.append(source)
            else:
                document = parse_file(path, raw)
                item = _Pending(source, digest, document)
                pending.append(item)
                queue.extend((item, embedding_text(chunk)) for chunk in document.chunks)
                while len(queue) >= batch_size:
                    embed(batch_size)
                flush()
        if progress:
            # Counts files read and chunked; their writes trail by at most one embedding batch.
            progress(done, total)
    while queue:
        embed(batch_size)
    flush()
    if report.indexed or recreate:
        # Load vectors (and build the ANN graph of a large index) here, so the first query after
        # `pipeline index` does not pay for it.
        index.warm()
    report.seconds = time.perf_counter() - started
    return report


def ensure_sample_index(index: SqliteIndex, embedder: Embedder) -> IngestReport | None:
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
            return index_paths([CORPUS_DIR], index=index, embedder=embedder, base=CORPUS_DIR.parent, recreate=True)
        if index.document_count() > 0:
            return None
        if not CORPUS_DIR.is_dir():
            raise ProviderError.configuration(f"the sample corpus is missing at {CORPUS_DIR}")
        return index_paths([CORPUS_DIR], index=index, embedder=embedder, base=CORPUS_DIR.parent)


def _built_by_another(index: SqliteIndex) -> bool:
    recorded = index.embedder()
    return recorded is not None and recorded[0] != index.embedder_model


def _sample_sources() -> set[str]:
    return {source_name(path, CORPUS_DIR.parent) for path in walk_files([CORPUS_DIR])} if CORPUS_DIR.is_dir() else set()


def walk_files(paths: Iterable[str | Path]) -> list[Path]:
    """The supported files under `paths` (files or directories, walked recursively), sorted, each once.

    Raises `ProviderError.invalid_input` when a path does not exist.
    """
    return sorted(dict.fromkeys(_walk(paths)))


def content_hash(raw: bytes) -> str:
    """The change-detection hash of a file: its bytes and the chunker version (so a new chunker re-chunks)."""
    return hashlib.sha256(CHUNKER_VERSION.encode() + b"\0" + raw).hexdigest()


def parse_file(path: Path, raw: bytes) -> ParsedDocument:
    """A file's chunks, by its kind (unknown extensions, named explicitly, are read as text)."""
    kind = kind_for(path) or "text"
    return chunk_document(raw.decode("utf-8", errors="replace"), kind=kind, name=path.name)


def embedding_text(chunk: Chunk) -> str:
    """What is embedded for a chunk: its heading path, then its text (the headings say what it is about)."""
    return f"{chunk.title}\n{chunk.content}"


_SNIFF_BYTES = 8192


def looks_binary(path: Path) -> bool:
    """A NUL byte in the first 8 KiB, git's own test: executables, images and archives have one, text never.

    The folder walk goes by extension; a file named on the command line is read whatever its name,
    so its content decides.
    """
    with path.open("rb") as file:
        return b"\0" in file.read(_SNIFF_BYTES)


def _walk(paths: Iterable[str | Path]) -> Iterator[Path]:
    for entry in paths:
        path = Path(entry).expanduser().resolve()
        if path.is_file():
            if kind_for(path) is None and looks_binary(path):
                raise ProviderError.invalid_input(
                    f"{entry} is not a text file: pipeline index reads Markdown, text and HTML"
                )
            yield path  # named explicitly: ingested whatever its extension (as text when unknown)
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path).parts
                if any(part in _SKIPPED_DIRS or part.startswith(".") for part in relative[:-1]):
                    continue
                if child.is_file() and kind_for(child) and not child.name.startswith("."):
                    yield child
        else:
            raise ProviderError.invalid_input(f"no such file or directory: {entry}")


def source_name(path: Path, base: Path | None) -> str:
    """How a file is recorded as a source: relative to `base` when under it, else its absolute POSIX path."""
    if base is not None and path.is_relative_to(base):
        return path.relative_to(base).as_posix()
    return path.as_posix()


def embed_matrix(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """The embeddings of `texts` as one float32 matrix, checked to have one row per text."""
    fast = getattr(embedder, "embed_array", None)  # the hashing embedder skips the list round-trip
    if callable(fast):
        return np.asarray(fast(texts), dtype=np.float32)
    result = embedder.embed(texts)
    if len(result.vectors) != len(texts):
        raise ProviderError.transient(f"embedder returned {len(result.vectors)} vectors for {len(texts)} texts")
    return np.asarray(result.vectors, dtype=np.float32)


def _store(index: SqliteIndex, item: _Pending) -> None:
    chunks = [ChunkRecord(title=c.title, content=c.content, ordinal=c.ordinal) for c in item.document.chunks]
    vectors = np.concatenate(item.vectors) if item.vectors else np.zeros((0, 1), dtype=np.float32)
    index.replace_document(
        item.source, title=item.document.title, content_hash=item.content_hash, chunks=chunks, vectors=vectors
    )
