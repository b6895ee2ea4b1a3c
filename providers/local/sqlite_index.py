"""The local document index: chunks and metadata in one SQLite file, searched hybrid like Azure AI Search.

Keyword search is SQLite FTS5 ranked by `bm25()`; vector search is exact cosine over one in-memory
float32 matrix (matmul + argpartition: ~8 ms at 100k x 384, recall 1.0), or, from `ann_threshold`
chunks on and when the `ann` extra is installed, an HNSW graph (`providers.local.ann`) saved beside
the SQLite file per generation; the two rankings are fused by reciprocal rank (k=60, Azure AI
Search's constant). Vectors live as float32 blobs in the chunks table, so one transaction keeps
text and vectors consistent. A `generation` counter in `meta` moves on every write: readers
compare it (one indexed read) before a search and reload the matrix when another process
re-indexed. The embedder that built the index is recorded; a different one is refused, because
its vectors would be compared with vectors from another space. Document scopes (who may read a
document) live beside the documents (`providers.local.scope_filter`); every read filters by them
before ranking, and changing them moves no generation, as no vector changes.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from ingestion.ingest import DocumentVersion
from ingestion.ingest import Embedder as IngestEmbedder
from providers.base import Closing, Embedder, Passage
from providers.errors import ProviderError
from providers.index_search import IndexSearch, SearchRequest, checked_scopes
from providers.local.ann import HnswIndex, ann_available
from providers.local.blas_threads import use_one_blas_thread
from providers.local.hashing_embedder import STOP_WORDS
from providers.local.scope_filter import (
    SCOPES_SCHEMA,
    document_scopes,
    hidden_documents,
    hidden_documents_sql,
    write_document_scopes,
)
from providers.local.sqlite_files import connect, write_transaction

__all__ = [
    "DEFAULT_ANN_THRESHOLD",
    "RRF_K",
    "Preparer",
    "SqliteIndex",
    "check_index_file",
    "fts_query",
    "reciprocal_rank_fusion",
]

RRF_K = 60
# Below this many chunks exact search is fast enough (~4 ms at 50k x 384) and exact; above it the
# HNSW graph keeps queries under a millisecond as the index grows.
DEFAULT_ANN_THRESHOLD = 50_000
_SCHEMA_VERSION = "1"
_FILE_SCHEMA = ("chunks", int(_SCHEMA_VERSION))  # a table of ours and the file's PRAGMA user_version
# Chunks handed to the preparer at once: their sentences, sorted by length, make fuller model passes with
# little padding, and a page of passages is a few hundred kilobytes.
_PREPARE_PAGE = 200
_MAX_QUERY_TERMS = 32
_FTS_TERM = re.compile(r"[^\W_]+", re.UNICODE)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    content TEXT NOT NULL,
    vector BLOB NOT NULL,
    page INTEGER  -- 1-based page (slide) of a paginated source, NULL otherwise
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, content, content='chunks', content_rowid='pk', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, title, content) VALUES (new.pk, new.title, new.content);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, title, content) VALUES ('delete', old.pk, old.title, old.content);
END;
"""

K = TypeVar("K", bound=Hashable)
log = logging.getLogger(__name__)


class Preparer(Protocol):
    """What reads the retrieved passages and can do part of that work at index time (the local answerer)."""

    @property
    def prepares(self) -> str | None:
        """A name for what `prepare` computes, recorded in the index; None: nothing to prepare."""

    def prepare(self, passages: Sequence[Passage]) -> None:
        """Compute and keep what reading these passages will need."""


def reciprocal_rank_fusion(rankings: Iterable[Sequence[K]], *, k: int = RRF_K) -> list[tuple[K, float]]:
    """Fuse best-first rankings: score(d) = sum over rankings of 1 / (k + rank of d), ranks from 1.

    Ties keep the order in which items were first seen, so the result is deterministic.
    """
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    order = {key: n for n, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression for free text: its words, each quoted, OR-ed; None if no words.

    Quoting every term turns operators (AND, NEAR, *, ^, column filters) and punctuation into plain
    words, so user input can never be a syntax error; OR plus bm25 ranks partial matches too.
    """
    terms: list[str] = []
    for word in _FTS_TERM.findall(text.lower()):
        if word in STOP_WORDS or word in terms:
            continue
        terms.append(word)
        if len(terms) == _MAX_QUERY_TERMS:
            break
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


# The columns a Passage is read from, in `_passage`'s order.
_PASSAGE_COLUMNS = "id, title, source, content, page"


def _passage(row: Sequence, score: float = 0.0) -> Passage:
    chunk_id, title, source, content, page = row
    return Passage(id=chunk_id, title=title, source=source, content=content, score=score, page=page)


@dataclass(frozen=True, slots=True)
class _Vectors:
    generation: str
    matrix: np.ndarray  # (n, d) float32, rows L2-normalised
    pks: np.ndarray  # (n,) int64 chunk pks, row order
    documents: np.ndarray  # (n,) int64 document ids, row order
    ann: HnswIndex | None = None  # approximate index over `matrix` rows, when the index is large


class SqliteIndex(Closing, IndexSearch):
    """Hybrid keyword + vector search over a SQLite file; also the write side used by ingestion.

    `embedder` is the embedder whose vectors this index holds (or will hold); only its `model` and
    `dimensions` are used, to refuse an index built by another. Nothing is opened until first use.
    `preparer` (the local answerer) is handed the passages of every document written, after the write,
    so the work of reading them is done at index time; the index records that it was, and an index
    written without it (an older file) has every chunk prepared at the end of its next ingestion.
    Safe for concurrent readers on a thread pool: each thread has its own connection, and the
    vector matrix is swapped atomically on reload.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        embedder: Embedder,
        filename: str = "index.sqlite",
        candidates: int = 50,
        ann_threshold: int | None = DEFAULT_ANN_THRESHOLD,
        preparer: Preparer | None = None,
    ) -> None:
        use_one_blas_thread()
        self._path = Path(directory).expanduser() / filename
        self._model = embedder.model
        self._dimensions = embedder.dimensions
        self._candidates = candidates
        # None or 0: always exact. Without the `ann` extra the index stays exact (and says so once).
        self._ann_threshold = ann_threshold or 0
        self._ann_warned = False
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()  # guards the connection list, schema setup and reloads
        self._write_lock = threading.Lock()
        self._ready = False
        self._vectors: _Vectors | None = None
        self._known: dict[str, str] = {}  # source -> content hash, read when an ingestion begins
        self._preparer = preparer if preparer is not None and preparer.prepares else None
        self._catch_up = False  # chunks written before the preparer's work was recorded: prepared at `finish`
        self._unprepared: list[Passage] = []  # written, handed to the preparer by the page (fuller model batches)

    @property
    def name(self) -> str:
        return "local-sqlite-hybrid"  # no path: the name travels into every result and event

    @property
    def path(self) -> Path:
        return self._path

    @property
    def embedder_model(self) -> str:
        return self._model

    # --- connections -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = connect(self._path, schema=_FILE_SCHEMA)
                connection.execute("PRAGMA foreign_keys=ON")
                connection.execute("PRAGMA busy_timeout=10000")
            except (OSError, sqlite3.Error) as error:
                raise _open_error(f"cannot open the local index at {self._path}", error) from error
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        if not self._ready:
            self._setup(connection)
        return connection

    def _setup(self, connection: sqlite3.Connection) -> None:
        with self._lock:
            if self._ready:
                return
            try:
                connection.executescript(_SCHEMA + SCOPES_SCHEMA)
                _add_missing_columns(connection)
                connection.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?), ('generation', '0')",
                    (_SCHEMA_VERSION,),
                )
            except sqlite3.Error as error:
                raise _open_error(f"cannot prepare the local index at {self._path}", error) from error
            self._ready = True

    def close(self) -> None:
        """Close every thread's connection; the index reopens on next use."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
            self._vectors = None
        self._local = threading.local()

    # --- meta --------------------------------------------------------------------------------

    def _meta(self, connection: sqlite3.Connection) -> dict[str, str]:
        return dict(connection.execute("SELECT key, value FROM meta").fetchall())

    def _check_embedder(self, meta: dict[str, str]) -> None:
        model, dims = meta.get("embedder_model"), meta.get("embedder_dimensions")
        if model is None:
            return  # empty index: the first write records the embedder
        if model != self._model or dims != str(self._dimensions):
            raise ProviderError.configuration(
                f"the local index at {self._path} was built with embedder '{model}' ({dims} dimensions) but the "
                f"configured embedder is '{self._model}' ({self._dimensions} dimensions); "
                "re-index with the configured embedder (recreate) or configure the embedder that built it"
            )

    def embedder(self) -> tuple[str, int] | None:
        """The (model, dimensions) recorded in the index, None while it is empty."""
        meta = self._meta(self._connection())
        if "embedder_model" not in meta:
            return None
        return meta["embedder_model"], int(meta["embedder_dimensions"])

    # --- read side ---------------------------------------------------------------------------

    def _ranked(self, request: SearchRequest) -> list[Passage]:
        query, top_k, source, readable = request.query, request.top_k, request.source, request.scopes
        query_vector = np.asarray(request.vector, dtype=np.float32).reshape(-1)
        if query_vector.shape[0] != self._dimensions:
            raise ProviderError.configuration(
                f"query vector has {query_vector.shape[0]} dimensions but the local index uses "
                f"'{self._model}' ({self._dimensions} dimensions): embed queries with the same embedder"
            )
        connection = self._connection()
        try:
            vectors = self._current_vectors(connection)
            n = max(self._candidates, top_k)
            # One read transaction: the hidden documents, the keyword ranking and the rows read back
            # all see the same state, even while another process changes scopes.
            connection.execute("BEGIN")
            try:
                document_id: int | None = None
                if source is not None:
                    row = connection.execute("SELECT id FROM documents WHERE source = ?", (source,)).fetchone()
                    if row is None:
                        return []
                    document_id = row[0]
                hidden = hidden_documents(connection, readable)
                # Nothing hidden (no scoped document, or the request sees them all): no filter to pay for.
                exclude = hidden_documents_sql(readable) if hidden.size else None
                keyword = self._keyword_ranking(connection, query, n, document_id, exclude)
                # A source filter leaves few rows: exact search over them is both cheap and complete.
                semantic = self._vector_ranking(vectors, query_vector, n, document_id, hidden)
                fused = reciprocal_rank_fusion([keyword, semantic])[:top_k]
                rows = self._rows_by_pk(connection, [pk for pk, _ in fused], exclude)
            finally:
                connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise ProviderError.transient(f"local index search failed: {error}") from error
        return [_passage(rows[pk], score) for pk, score in fused if pk in rows]

    def fetch(self, ids: Sequence[str], *, scopes: Sequence[str] = ()) -> list[Passage]:
        """Passages by id; those of documents `scopes` cannot see are left out, like unknown ids."""
        readable = checked_scopes(scopes)
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        connection = self._connection()
        hidden_sql, hidden_params = hidden_documents_sql(readable)
        try:
            self._check_embedder(self._meta(connection))
            found: dict[str, Passage] = {}
            for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
                batch = wanted[start : start + 500]
                marks = ",".join("?" * len(batch))
                for row in connection.execute(
                    f"SELECT {_PASSAGE_COLUMNS} FROM chunks WHERE id IN ({marks})"
                    f" AND document_id NOT IN ({hidden_sql})",
                    (*batch, *hidden_params),
                ):
                    found[row[0]] = _passage(row)
        except sqlite3.Error as error:
            raise ProviderError.transient(f"local index fetch failed: {error}") from error
        return [found[chunk_id] for chunk_id in ids if chunk_id in found]

    def _keyword_ranking(
        self,
        connection: sqlite3.Connection,
        query: str,
        n: int,
        document_id: int | None,
        exclude: tuple[str, tuple[str, ...]] | None,
    ) -> list[int]:
        """Best chunk pks for `query`; `exclude` is a subquery of hidden document ids (applied before LIMIT)."""
        expression = fts_query(query)
        if expression is None:
            return []
        where: list[str] = ["chunks_fts MATCH ?"]
        params: list[object] = [expression]
        if document_id is not None:
            where.append("chunks.document_id = ?")
            params.append(document_id)
        if exclude is not None:
            where.append(f"chunks.document_id NOT IN ({exclude[0]})")
            params.extend(exclude[1])
        join = " JOIN chunks ON chunks.pk = chunks_fts.rowid" if len(where) > 1 else ""
        sql = (
            f"SELECT chunks_fts.rowid FROM chunks_fts{join} WHERE {' AND '.join(where)}"
            # bm25() is lower-is-better; the title column counts double, as headings summarise a section.
            " ORDER BY bm25(chunks_fts, 2.0, 1.0), chunks_fts.rowid LIMIT ?"
        )
        return [row[0] for row in connection.execute(sql, (*params, n))]

    @staticmethod
    def _vector_ranking(
        vectors: _Vectors, query: np.ndarray, n: int, document_id: int | None, hidden: np.ndarray
    ) -> list[int]:
        """Best chunk pks by cosine among the rows not of a `hidden` document (and of `document_id`, if given)."""
        if vectors.matrix.shape[0] == 0:
            return []
        norm = float(np.linalg.norm(query))
        if norm == 0.0:
            return []
        unit = query / norm
        allowed: np.ndarray | None = None  # row mask; None: every row
        if hidden.size:
            allowed = ~np.isin(vectors.documents, hidden)
        if document_id is not None:
            same = vectors.documents == document_id
            allowed = same if allowed is None else allowed & same
        if vectors.ann is not None and document_id is None:
            rows = _ann_rows(vectors.ann, unit, n, allowed)
            if rows is not None:
                return [int(vectors.pks[row]) for row in rows]
        scores = vectors.matrix @ unit
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        n = min(n, scores.shape[0])
        top = np.argpartition(-scores, n - 1)[:n]
        # Stable order for equal scores (lexsort's last key is primary): best score, then lowest row.
        top = top[np.lexsort((top, -scores[top]))]
        return [int(vectors.pks[i]) for i in top if np.isfinite(scores[i])]

    def _rows_by_pk(
        self, connection: sqlite3.Connection, pks: list[int], exclude: tuple[str, tuple[str, ...]] | None
    ) -> dict[int, tuple]:
        if not pks:
            return {}
        marks = ",".join("?" * len(pks))
        sql = f"SELECT pk, {_PASSAGE_COLUMNS} FROM chunks WHERE pk IN ({marks})"
        params: tuple[object, ...] = tuple(pks)
        if exclude is not None:  # the rankings excluded these already; reading back checks again
            sql += f" AND document_id NOT IN ({exclude[0]})"
            params += exclude[1]
        return {row[0]: row[1:] for row in connection.execute(sql, params)}

    def _current_vectors(self, connection: sqlite3.Connection) -> _Vectors:
        row = connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = row[0] if row else "0"
        vectors = self._vectors
        if vectors is not None and vectors.generation == generation:
            return vectors
        with self._lock:
            vectors = self._vectors
            if vectors is not None and vectors.generation == generation:
                return vectors
            # Read meta and vectors in one read transaction so they belong to the same generation.
            connection.execute("BEGIN")
            try:
                meta = self._meta(connection)
                self._check_embedder(meta)
                rows = connection.execute("SELECT pk, document_id, vector FROM chunks ORDER BY pk").fetchall()
            finally:
                connection.execute("COMMIT")
            # One join and one frombuffer: ~10x faster than filling the matrix row by row at 100k rows.
            flat = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32)
            if flat.size != len(rows) * self._dimensions:
                raise ProviderError.configuration(
                    f"the local index at {self._path} holds vectors of another size than {self._dimensions}: "
                    "rebuild it (pipeline index --recreate)"
                )
            matrix = flat.reshape(len(rows), self._dimensions).copy()  # writable: normalised in place
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix /= np.where(norms == 0.0, 1.0, norms)
            generation = meta.get("generation", "0")
            self._vectors = _Vectors(
                generation=generation,
                matrix=matrix,
                pks=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                documents=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
                ann=self._approximate_index(matrix, generation),
            )
            return self._vectors

    def _approximate_index(self, matrix: np.ndarray, generation: str) -> HnswIndex | None:
        """The HNSW graph for this generation when the index is large enough: from its file, else built and saved."""
        if not self._ann_threshold or matrix.shape[0] < self._ann_threshold:
            return None
        if not ann_available():
            if not self._ann_warned:
                self._ann_warned = True
                log.warning(
                    "the local index has %d chunks (ANN threshold %d) but usearch is not installed: "
                    "searching exactly; pip install 'durable-ai-pipeline[ann]' for faster queries",
                    matrix.shape[0],
                    self._ann_threshold,
                )
            return None
        path = self._path.with_name(f"{self._path.name}.ann-{generation}.usearch")
        graph = HnswIndex.load(path, dimensions=self._dimensions, expected_size=matrix.shape[0])
        if graph is None:
            graph = HnswIndex.build(matrix)
            try:
                graph.save(path)
            except OSError as error:  # a read-only data dir still searches, it just rebuilds next time
                log.warning("cannot save the ANN graph to %s: %s", path, error)
        for stale in self._path.parent.glob(f"{self._path.name}.ann-*.usearch"):
            if stale != path:
                stale.unlink(missing_ok=True)
        return graph

    def warm(self) -> bool:
        """Load the vectors (and build or load the ANN graph) now rather than on the first search.

        Ingestion calls it so the cost of a graph build is paid by `pipeline index`, not by a query.
        Returns whether searches will use the approximate index.
        """
        connection = self._connection()
        try:
            return self._current_vectors(connection).ann is not None
        except sqlite3.Error as error:
            raise ProviderError.transient(f"loading the local index failed: {error}") from error

    # --- write side (ingestion's `IndexWriter`) -------------------------------------------------

    def begin(self, embedder: IngestEmbedder, *, recreate: bool) -> None:
        if embedder.model != self._model:
            raise ProviderError.configuration(
                f"ingesting with embedder '{embedder.model}' into an index opened for '{self._model}'"
            )
        if recreate:
            self.reset()
        self._known = self.document_hashes()
        preparer = self._preparer
        if preparer is not None and self._meta(self._connection()).get("prepared_for") != preparer.prepares:
            # An empty index is prepared document by document from here; one with chunks is caught up at `finish`.
            self._catch_up = self.chunk_count() > 0
            if not self._catch_up:
                self._record_prepared()

    def known_hash(self, source: str) -> str | None:
        return self._known.get(source)

    def known_scopes(self, source: str) -> tuple[str, ...] | None:
        """The scopes the index holds for `source` (sorted; empty: unscoped), None when it holds no such document."""
        return document_scopes(self._connection(), source)

    def set_scopes(self, source: str, scopes: Sequence[str]) -> bool:
        """Give an indexed document these scopes, keeping its chunks, vectors and chunk ids; whether it changed.

        The generation does not move: no vector changed, and readers look scopes up on every search.
        """
        wanted = checked_scopes(scopes)
        if document_scopes(self._connection(), source) == wanted:  # the usual re-index: no write lock taken
            return False
        with self._writing(move_generation=False) as connection:
            row = connection.execute("SELECT id FROM documents WHERE source = ?", (source,)).fetchone()
            if row is None:
                raise ProviderError.invalid_input(f"cannot set the scopes of {source}: it is not in the index")
            if document_scopes(connection, source) == wanted:
                return False
            write_document_scopes(connection, row[0], wanted)
            return True

    def _prepare_written(self) -> None:
        if self._preparer is not None and self._unprepared:
            passages, self._unprepared = self._unprepared, []
            self._preparer.prepare(passages)

    def finish(self, *, changed: bool) -> None:
        self._prepare_written()
        if changed:
            # Load vectors (and build the ANN graph of a large index) here, so the first query after
            # `pipeline index` does not pay for it.
            self.warm()
        if self._catch_up:
            self._catch_up = False
            self.prepare_missing()

    def prepared(self) -> bool:
        """Whether every chunk was handed to the preparer (True without one: nothing to prepare)."""
        preparer = self._preparer
        return preparer is None or self._meta(self._connection()).get("prepared_for") == preparer.prepares

    def prepare_missing(self, *, page: int = _PREPARE_PAGE, stop: threading.Event | None = None) -> bool:
        """Hand every chunk to the preparer, `page` chunks at a time, unless the index records it was done;
        then record it. Whether it finished (`stop` set ends it between pages; the next call goes on, and
        the preparer skips what it already holds)."""
        if self.prepared():
            return True
        assert self._preparer is not None
        connection = self._connection()
        last = 0
        while True:  # a page at a time: a large index never sits in memory as passages
            if stop is not None and stop.is_set():
                return False
            rows = connection.execute(
                f"SELECT pk, {_PASSAGE_COLUMNS} FROM chunks WHERE pk > ? ORDER BY pk LIMIT ?", (last, page)
            ).fetchall()
            if not rows:
                break
            self._preparer.prepare([_passage(row[1:]) for row in rows])
            last = rows[-1][0]
        self._record_prepared()
        return True

    def _record_prepared(self) -> None:
        assert self._preparer is not None
        with self._writing(move_generation=False) as connection:
            connection.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('prepared_for', ?)", (self._preparer.prepares,)
            )

    def document_count(self) -> int:
        connection = self._connection()
        self._check_embedder(self._meta(connection))
        return int(connection.execute("SELECT count(*) FROM documents").fetchone()[0])

    def chunk_count(self) -> int:
        return int(self._connection().execute("SELECT count(*) FROM chunks").fetchone()[0])

    def document_hashes(self) -> dict[str, str]:
        """source -> content hash of every indexed document."""
        return dict(self._connection().execute("SELECT source, content_hash FROM documents").fetchall())

    def chunk_ids(self, source: str) -> list[str]:
        """Ids of a document's chunks, in order."""
        sql = "SELECT chunks.id FROM chunks JOIN documents ON documents.id = chunks.document_id"
        sql += " WHERE documents.source = ? ORDER BY chunks.ordinal"
        return [row[0] for row in self._connection().execute(sql, (source,))]

    def source_passages(self, source: str) -> list[Passage]:
        """Every chunk the index holds for `source`, in order (empty: no such document), whatever its scopes."""
        sql = f"SELECT {_PASSAGE_COLUMNS} FROM chunks WHERE document_id = (SELECT id FROM documents WHERE source = ?)"
        sql += " ORDER BY ordinal"
        try:
            return [_passage(row) for row in self._connection().execute(sql, (source,))]
        except sqlite3.Error as error:
            raise ProviderError.transient(f"local index read failed: {error}") from error

    def replace_document(self, document: DocumentVersion) -> list[str]:
        """Store `document` in place of whatever the index held for its source; returns its chunk ids."""
        source, chunks = document.source, document.chunks
        wanted = checked_scopes(document.scopes)
        matrix = np.ascontiguousarray(document.vectors, dtype=np.float32).reshape(len(chunks), -1) if chunks else None
        if matrix is not None and matrix.shape[1] != self._dimensions:
            raise ProviderError.configuration(
                f"vectors have {matrix.shape[1]} dimensions, the index expects {self._dimensions} ({self._model})"
            )
        ids = document.chunk_ids()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._writing() as connection:
            connection.execute("DELETE FROM documents WHERE source = ?", (source,))
            cursor = connection.execute(
                "INSERT INTO documents(source, title, content_hash, indexed_at) VALUES (?, ?, ?, ?)",
                (source, document.title, document.content_hash, now),
            )
            document_id = cursor.lastrowid
            assert document_id is not None  # an INSERT into a rowid table always has one
            write_document_scopes(connection, document_id, wanted)
            if matrix is not None:
                connection.executemany(
                    "INSERT INTO chunks(id, document_id, title, source, ordinal, content, vector, page)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            id_,
                            document_id,
                            chunk.title,
                            source,
                            chunk.ordinal,
                            chunk.content,
                            matrix[i].tobytes(),
                            chunk.page,
                        )
                        for i, (id_, chunk) in enumerate(zip(ids, chunks, strict=True))
                    ],
                )
        if self._preparer is not None and chunks:  # after the commit: the write lock is not held meanwhile
            self._unprepared.extend(
                Passage(id=id_, title=chunk.title, source=source, content=chunk.content, score=0.0, page=chunk.page)
                for id_, chunk in zip(ids, chunks, strict=True)
            )
            if len(self._unprepared) >= _PREPARE_PAGE:
                self._prepare_written()
        return ids

    def copy_from(self, other: Path) -> list[str]:
        """Copy every document and chunk of the index file `other` into this empty index; the sources copied.

        `other` must have been built by this index's embedder (else `ProviderError.configuration`), so
        its vectors and chunk ids are what an ingestion here would write. Its chunks are not handed to
        the preparer: `prepare_missing` does that later. An index that holds documents by the time the
        write begins (another process filled it) is left as it is, and nothing is copied.
        """
        try:
            shipped = sqlite3.connect(f"{other.resolve().as_uri()}?mode=ro", uri=True)
            try:
                meta = self._meta(shipped)
                documents = shipped.execute("SELECT id, source, title, content_hash FROM documents").fetchall()
                chunks = shipped.execute(
                    "SELECT id, document_id, title, source, ordinal, content, vector, page FROM chunks ORDER BY pk"
                ).fetchall()
            finally:
                shipped.close()
        except sqlite3.Error as error:
            raise ProviderError.configuration(f"cannot read the index file {other}: {error}") from error
        self._check_embedder(meta)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._writing() as connection:
            if connection.execute("SELECT count(*) FROM documents").fetchone()[0]:
                return []
            connection.executemany(
                "INSERT INTO documents(id, source, title, content_hash, indexed_at) VALUES (?, ?, ?, ?, ?)",
                [(*row, now) for row in documents],
            )
            connection.executemany(
                "INSERT INTO chunks(id, document_id, title, source, ordinal, content, vector, page)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                chunks,
            )
        self.warm()
        return [row[1] for row in documents]

    def delete_document(self, source: str) -> bool:
        with self._writing() as connection:
            return connection.execute("DELETE FROM documents WHERE source = ?", (source,)).rowcount > 0

    def reset(self) -> None:
        """Empty the index and record the configured embedder (what a `recreate` does)."""
        with self._writing(check=False) as connection:
            connection.execute("DELETE FROM chunks")
            connection.execute("DELETE FROM documents")
            connection.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('embedder_model', ?), ('embedder_dimensions', ?)",
                (self._model, str(self._dimensions)),
            )

    @contextmanager
    def _writing(self, *, check: bool = True, move_generation: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction that records the embedder and (unless told not to) moves the generation."""
        with self._write_lock, write_transaction(self._connection(), self._path, "the local index") as connection:
            if check:
                self._check_embedder(self._meta(connection))
            connection.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('embedder_model', ?), ('embedder_dimensions', ?)",
                (self._model, str(self._dimensions)),
            )
            yield connection
            if move_generation:
                # A fresh unique value rather than n + 1: a reader holding a generation from a file
                # that was deleted and rebuilt can never mistake the new file's value for its own.
                generation = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
                connection.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (generation,))


def check_index_file(directory: Path) -> None:
    """Refuse (`ProviderError`, naming the file) an index file that is not one, without building anything:
    `pipeline serve` checks at start-up rather than at the first question."""
    path = Path(directory) / "index.sqlite"
    if path.exists():
        connect(path, schema=_FILE_SCHEMA).close()


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    """Columns added since an index file was made: an older file gains them (NULL), nothing is rebuilt."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(chunks)")}
    if "page" not in columns:
        connection.execute("ALTER TABLE chunks ADD COLUMN page INTEGER")


def _ann_rows(graph: HnswIndex, query: np.ndarray, n: int, allowed: np.ndarray | None) -> np.ndarray | None:
    """The graph's best `n` allowed rows, or None when exact search must answer instead.

    The graph cannot skip rows while it walks, so with a filter it is asked for more neighbours (in
    proportion to the hidden share) and the hidden ones are dropped; when most rows are hidden, or
    the wider search still leaves places empty, exact search over the allowed rows fills all of them.
    """
    if allowed is None:
        return graph.search(query, n)
    visible = int(np.count_nonzero(allowed))
    if visible == 0:
        return np.zeros(0, dtype=np.int64)
    wider = -(-2 * n * allowed.shape[0] // visible)  # ceil(2n / visible share)
    if wider > 4 * n:  # under half the rows visible: exact search is cheaper than a very wide beam
        return None
    rows = graph.search(query, min(wider, allowed.shape[0]))
    rows = rows[allowed[rows]][:n]
    return rows if rows.shape[0] >= min(n, visible) else None


def _open_error(what: str, error: Exception) -> ProviderError:
    """A busy or locked database is another writer at work (retry); anything else needs a person."""
    text = str(error).lower()
    if isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return ProviderError.transient(f"{what}: {error}")
    return ProviderError.configuration(f"{what}: {error}")
