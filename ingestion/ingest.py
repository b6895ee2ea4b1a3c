"""The one ingestion loop, and the interface of the index it writes to.

A file is re-chunked and re-embedded only when its content hash differs from the one the index
holds: unchanged files cost one hash (and one lookup), changed files have their chunks replaced,
and files that disappeared are left in the index unless `recreate` asks for a clean rebuild (a
partial path list must not delete everything else). Chunks are embedded in batches across files,
which is what a remote embedder bills per call; a file is written once all its chunks have vectors.

Scopes (who may read a document, `contracts.scopes`) belong to the source, not to its content: given,
they replace what the index holds for every file named, and an unchanged file only has its scopes
rewritten (no parsing, no embedding, the same chunk ids); not given, each file keeps the scopes it
has, so re-indexing a folder never opens a scoped document to everyone by omission.

A new vector store plugs in by implementing `IndexWriter` (its reading side is a
`providers.base.Retriever`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from contracts.errors import ErrorKind, ProviderError
from contracts.scopes import InvalidScope, normalise_scopes
from ingestion.chunking import Chunk, ParsedDocument
from ingestion.sources import (
    UnreadableDocument,
    chunk_id,
    content_hash,
    embedding_text,
    parse_file,
    source_name,
    walk_files,
)

__all__ = [
    "DocumentNotStored",
    "DocumentParser",
    "DocumentVersion",
    "Embedder",
    "Embeddings",
    "IndexWriter",
    "IngestReport",
    "Progress",
    "embed_matrix",
    "index_paths",
]

Progress = Callable[[int, int], None]  # (files done, files total)


class DocumentParser(Protocol):
    """A parser that takes over some files from the local ones (Azure AI Document Intelligence, for scans).

    It raises `UnreadableDocument` or `ProviderError` for a file it cannot read: the file is reported and the
    others go on, except on a configuration error (no access, no such resource), which stops the run.
    """

    @property
    def name(self) -> str: ...

    def handles(self, path: Path) -> bool: ...

    def parse(self, path: Path, raw: bytes) -> ParsedDocument: ...


class Embeddings(Protocol):
    @property
    def vectors(self) -> Sequence[Sequence[float]]: ...


class Embedder(Protocol):
    """What ingestion needs of an embedder. Ingestion sits below the providers (they build the sample index
    with it), so it names the shape it uses rather than importing `providers.base.Embedder`, which has it."""

    @property
    def model(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: Sequence[str], /) -> Embeddings: ...


class DocumentNotStored(Exception):
    """The index took only part of a document; the message says what it refused. Its old chunks are kept."""


@dataclass(frozen=True)
class DocumentVersion:
    """A document as the index is to hold it: one content version of `source`, its chunks (one vector row
    each) and the scopes that may read it."""

    source: str
    title: str
    content_hash: str
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    scopes: Sequence[str] = ()

    def chunk_ids(self) -> list[str]:
        """The ids its chunks get in every index (`ingestion.sources.chunk_id`), in chunk order."""
        return [chunk_id(self.source, self.content_hash, chunk.ordinal) for chunk in self.chunks]


class IndexWriter(Protocol):
    """The write side of a search index, as ingestion uses it."""

    def begin(self, embedder: Embedder, *, recreate: bool) -> None:
        """Ready the index for `embedder`'s vectors (refusing another embedder's index); `recreate` empties it."""

    def known_hash(self, source: str) -> str | None:
        """The content hash of what the index holds for `source`, or None when it holds nothing (or a mix)."""

    def known_scopes(self, source: str) -> tuple[str, ...] | None:
        """The scopes the index holds for `source`, sorted (empty: unscoped); None when it holds nothing.

        Raises `DocumentNotStored` when the index holds parts of the document under different scopes.
        """

    def set_scopes(self, source: str, scopes: Sequence[str]) -> bool:
        """Give the indexed document `source` these scopes, leaving its chunks and vectors; whether it changed.

        Called for every unchanged file when scopes are given, so a document that has them already costs
        no write.
        """

    def replace_document(self, document: DocumentVersion) -> list[str]:
        """Store `document` in place of what the index held for its source.

        Returns its chunk ids (`DocumentVersion.chunk_ids`); raises `DocumentNotStored` when the index
        took only part of the document.
        """

    def delete_document(self, source: str) -> bool:
        """Remove what the index holds for `source`; whether it held anything."""

    def finish(self, *, changed: bool) -> None:
        """After the last write; `changed` when anything was written or the index was recreated."""


@dataclass(slots=True)
class IngestReport:
    """What one ingestion did, per source."""

    indexed: list[str] = field(default_factory=list)  # new or changed, now (re)indexed
    skipped: list[str] = field(default_factory=list)  # unchanged since the last run
    rescoped: list[str] = field(default_factory=list)  # unchanged content, scopes rewritten
    failed: dict[str, str] = field(default_factory=dict)  # source -> why it could not be read or stored
    chunks: int = 0  # chunks written
    seconds: float = 0.0

    @property
    def files(self) -> int:
        return len(self.indexed) + len(self.skipped) + len(self.rescoped) + len(self.failed)


@dataclass(slots=True)
class _Pending:
    source: str
    content_hash: str
    document: ParsedDocument
    scopes: tuple[str, ...] = ()
    vectors: list[np.ndarray] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return sum(len(v) for v in self.vectors) == len(self.document.chunks)


def index_paths(
    paths: Iterable[str | Path],
    *,
    index: IndexWriter,
    embedder: Embedder,
    recreate: bool = False,
    progress: Progress | None = None,
    base: str | Path | None = None,
    batch_size: int = 64,
    scopes: Sequence[str] | None = None,
    parser: DocumentParser | None = None,
) -> IngestReport:
    """Index the supported files under `paths` (files or directories, walked recursively) into `index`.

    Sources are recorded as absolute POSIX paths, or relative to `base` for files under it. `scopes`
    become every file's scopes (`()`: unscoped); None keeps each file's scopes (a new file: unscoped).
    Raises `ProviderError` when a path does not exist, a scope name is invalid or the embedder does
    not match the index.
    """
    try:
        requested = None if scopes is None else normalise_scopes(scopes)
    except InvalidScope as invalid:
        raise ProviderError.invalid_input(f"invalid --scope: {invalid}") from None
    started = time.perf_counter()
    files = walk_files(paths, also=parser.handles if parser else None)
    base_dir = Path(base).resolve() if base is not None else None
    index.begin(embedder, recreate=recreate)
    report = IngestReport()
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
            chunks = item.document.chunks
            vectors = np.concatenate(item.vectors) if item.vectors else np.zeros((0, 1), dtype=np.float32)
            try:
                index.replace_document(
                    DocumentVersion(item.source, item.document.title, item.content_hash, chunks, vectors, item.scopes)
                )
            except DocumentNotStored as refused:
                report.failed[item.source] = str(refused)
            else:
                report.indexed.append(item.source)
                report.chunks += len(chunks)

    for done, path in enumerate(files, start=1):
        source = source_name(path, base_dir)
        try:
            raw = path.read_bytes()
        except OSError as error:
            report.failed[source] = f"cannot read: {error.strerror or error}"
        else:
            special = parser is not None and parser.handles(path)
            digest = content_hash(raw, parser.name if parser is not None and special else "")
            try:
                unchanged = index.known_hash(source) == digest
                # The writer compares, so a document whose chunks disagree on scopes is set right here too.
                if unchanged and requested is not None and index.set_scopes(source, requested):
                    report.rescoped.append(source)
                elif unchanged:
                    report.skipped.append(source)
                else:
                    keep = requested if requested is not None else (index.known_scopes(source) or ())
                    document = _parse(parser if special else None, path, raw)
                    item = _Pending(source, digest, document, keep)
                    pending.append(item)
                    queue.extend((item, embedding_text(chunk)) for chunk in document.chunks)
                    while len(queue) >= batch_size:
                        embed(batch_size)
                    flush()
            except UnreadableDocument as unreadable:  # reported by name; the other files go on
                report.failed[source] = str(unreadable)
            except DocumentNotStored as refused:  # its scopes could not be read or rewritten
                report.failed[source] = str(refused)
        if progress:
            # Counts files read and chunked; their writes trail by at most one embedding batch.
            progress(done, len(files))
    while queue:
        embed(batch_size)
    flush()
    index.finish(changed=bool(report.indexed) or recreate)
    report.seconds = time.perf_counter() - started
    return report


def _parse(parser: DocumentParser | None, path: Path, raw: bytes) -> ParsedDocument:
    """A file's chunks, from `parser` when given; a service's failure for this one file makes it unreadable."""
    if parser is None:
        return parse_file(path, raw)
    try:
        return parser.parse(path, raw)
    except ProviderError as error:
        if error.kind is ErrorKind.CONFIGURATION:  # no access or no such resource: every file would fail
            raise
        raise UnreadableDocument(error.message) from error


def embed_matrix(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """The embeddings of `texts` as one float32 matrix, checked to have one row per text."""
    fast = getattr(embedder, "embed_array", None)  # the hashing embedder skips the list round-trip
    if callable(fast):
        return np.asarray(fast(texts), dtype=np.float32)
    result = embedder.embed(texts)
    if len(result.vectors) != len(texts):
        raise ProviderError.transient(f"embedder returned {len(result.vectors)} vectors for {len(texts)} texts")
    return np.asarray(result.vectors, dtype=np.float32)
