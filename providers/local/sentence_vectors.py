"""Sentence vectors and token states for the local answerer, computed once per text and kept on disk.

The answerer compares the question with every sentence of the retrieved passages, as a whole (the
sentence vector) and word piece by word piece (the content tokens' contextual states, read from the
same forward pass). Embedding 20–30 sentences per question would cost 80–120 ms on one core, so
each text's vector and token states are stored by a hash of (model, text) in a small SQLite file and
in memory: a corpus's sentences are embedded once (the first time a passage is read), and a warm
answer reads them in about a millisecond. Text-addressed, so it serves passages from any retriever
and never goes stale: an edited sentence is a new key. Token states are kept as int8 with one scale
per row (a question-token cosine moves by 0.002 at most on the bundled corpus), a quarter of
their float32 size. A second, read-only file of the same form can sit behind the first: the bundled
corpus's sentences, shipped with the code, so a new state folder does not embed them again.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from providers.errors import ProviderError
from providers.local.sqlite_files import connect

__all__ = ["ArrayEmbedder", "SentenceVectors", "TokenEmbedder"]


class ArrayEmbedder(Protocol):
    @property
    def model(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed_array(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class TokenEmbedder(Protocol):
    """An embedder that also gives each text's content-token states (MiniLM)."""

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]: ...


@dataclass(frozen=True, slots=True)
class _Entry:
    vector: np.ndarray  # (dims,) float32, unit length
    tokens: np.ndarray  # (content tokens, dims) int8
    scales: np.ndarray  # (content tokens,) float32: tokens * scales[:, None] are the states

    @classmethod
    def of(cls, vector: np.ndarray, states: np.ndarray) -> _Entry:
        peak = np.abs(states).max(axis=1) if len(states) else np.zeros(0, dtype=np.float32)
        scales = (np.maximum(peak, 1e-12) / 127.0).astype(np.float32)
        tokens = np.rint(states / scales[:, None]).astype(np.int8) if len(states) else states.astype(np.int8)
        return cls(np.asarray(vector, dtype=np.float32), tokens, scales)

    def states(self) -> np.ndarray:
        return self.tokens.astype(np.float32) * self.scales[:, None]


class SentenceVectors:
    """`vectors(texts)` and `token_states(texts)` through an in-memory LRU, then the SQLite file (when given),
    then a read-only file shipped with the code (`shipped`: the bundled corpus's, when given), then the model.
    Without a `TokenEmbedder` every text has no token states."""

    def __init__(
        self,
        embedder: ArrayEmbedder,
        path: str | Path | None = None,
        *,
        memory: int = 20_000,
        shipped: Path | None = None,
    ) -> None:
        self._embedder = embedder
        self._path = Path(path) if path is not None else None
        self._memory: OrderedDict[bytes, _Entry] = OrderedDict()
        self._capacity = memory
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._shipped_path = shipped
        self._shipped: sqlite3.Connection | None = None

    @property
    def model(self) -> str:
        return self._embedder.model

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of `texts`, one row each, in order."""
        return self._stacked(self._entries(texts))

    def token_states(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's content-token states, (tokens, dims) float32 rows of about unit length."""
        return [entry.states() for entry in self._entries(texts)]

    def vectors_and_states(self, texts: Sequence[str], *, transient: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
        """Both of the above from one lookup (the answerer needs both for the same texts).

        The first `transient` texts (a question) are embedded in the same pass as any missing text but
        neither looked up nor kept: a text met once would only crowd out the sentences.
        """
        entries = self._entries(texts, transient)
        return self._stacked(entries), [entry.states() for entry in entries]

    def store(self, texts: Sequence[str], *, batch: int = 256) -> None:
        """Embed and keep each of `texts` not kept yet, in the file (in memory when there is none).

        Index time: the sentences of every passage written, so that a question reads them instead of
        embedding them. Only the keys are read to find what is missing, and nothing enters the memory
        the answerer's reads use: a large corpus would flush it.
        """
        wanted = {self._key(text): text for text in texts}
        with self._lock:
            present = self._present(list(wanted)) if self._db() is not None else None
        if present is None:
            self._entries(list(wanted.values()))
            return
        # By length, so each call's passes hold texts of about one length (little padding).
        todo = sorted((key for key in wanted if key not in present), key=lambda key: len(wanted[key]))
        for start in range(0, len(todo), batch):
            keys = todo[start : start + batch]
            self._write(self._compute([wanted[key] for key in keys], keys))

    def _stacked(self, entries: list[_Entry]) -> np.ndarray:
        out = np.zeros((len(entries), self._embedder.dimensions), dtype=np.float32)
        for row, entry in enumerate(entries):
            out[row] = entry.vector
        return out

    def close(self) -> None:
        with self._lock:
            for connection in (self._connection, self._shipped):
                if connection is not None:
                    connection.close()
            self._connection = self._shipped = None

    def _entries(self, texts: Sequence[str], transient: int = 0) -> list[_Entry]:
        keys = [self._key(text) for text in texts]
        first: dict[bytes, int] = {}  # each distinct text once: a repeat within one call is embedded once
        for row, key in enumerate(keys):
            first.setdefault(key, row)
        passing = [key for key, row in first.items() if row < transient]
        found: dict[bytes, _Entry] = {}
        with self._lock:
            for key, row in first.items():
                entry = self._memory.get(key) if row >= transient else None
                if entry is not None:
                    self._memory.move_to_end(key)
                    found[key] = entry
            stored = self._read([key for key, row in first.items() if row >= transient and key not in found])
        found.update(stored)
        todo = [key for key, row in first.items() if row >= transient and key not in found]
        asked = passing + todo
        computed = self._compute([texts[first[key]] for key in asked], asked) if asked else {}
        found.update(computed)
        fresh = {key: computed[key] for key in todo}
        self._write(fresh)
        with self._lock:
            for key, entry in {**stored, **fresh}.items():
                self._memory[key] = entry
            while len(self._memory) > self._capacity:
                self._memory.popitem(last=False)
        return [found[key] for key in keys]

    def _compute(self, texts: list[str], keys: list[bytes]) -> dict[bytes, _Entry]:
        if isinstance(self._embedder, TokenEmbedder):
            vectors, states = self._embedder.embed_with_tokens(texts)
        else:
            vectors = self._embedder.embed_array(texts)
            states = [np.zeros((0, self._embedder.dimensions), dtype=np.float32)] * len(texts)
        return {key: _Entry.of(v, s) for key, v, s in zip(keys, vectors, states, strict=True)}

    def _key(self, text: str) -> bytes:
        return blake2b(f"{self._embedder.model}\0{text}".encode(), digest_size=16).digest()

    def _db(self) -> sqlite3.Connection | None:
        if self._path is None:
            return None
        if self._connection is None:
            try:
                connection = connect(self._path)
                with contextlib.suppress(sqlite3.Error):  # the cache's first form (vectors alone), now unread
                    connection.execute("DROP TABLE IF EXISTS vectors")
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS embedded "
                    "(key BLOB PRIMARY KEY, vector BLOB NOT NULL, tokens BLOB NOT NULL, scales BLOB NOT NULL)"
                )
            except (OSError, sqlite3.Error, ProviderError):
                self._path = None  # a cache that cannot be opened is no cache, not a failure
                return None
            self._connection = connection
        return self._connection

    def _present(self, keys: list[bytes]) -> set[bytes]:
        """Which of `keys` the file or the shipped file holds (the caller holds the lock)."""
        present: set[bytes] = set()
        for db in (self._db(), self._shipped_db()) if keys else ():
            if db is None:
                continue
            with contextlib.suppress(sqlite3.Error):  # unreadable: everything is computed again, no worse
                for batch, marks in _batches([key for key in keys if key not in present]):
                    rows = db.execute(f"SELECT key FROM embedded WHERE key IN ({marks})", batch)
                    present.update(bytes(key) for (key,) in rows)
        return present

    def _read(self, keys: list[bytes]) -> dict[bytes, _Entry]:
        """The entries of `keys` the file holds, then those only the shipped file holds (the caller holds the lock)."""
        found: dict[bytes, _Entry] = {}
        for db in (self._db(), self._shipped_db()) if keys else ():
            if db is not None:
                found.update(self._read_from(db, [key for key in keys if key not in found]))
        return found

    def _read_from(self, db: sqlite3.Connection, keys: list[bytes]) -> dict[bytes, _Entry]:
        dims = self._embedder.dimensions
        found: dict[bytes, _Entry] = {}
        try:
            for batch, marks in _batches(keys):
                query = f"SELECT key, vector, tokens, scales FROM embedded WHERE key IN ({marks})"
                for key, vector, tokens, scales in db.execute(query, batch):
                    v = np.frombuffer(vector, dtype=np.float32)
                    t = np.frombuffer(tokens, dtype=np.int8)
                    s = np.frombuffer(scales, dtype=np.float32)
                    if v.shape[0] == dims and t.shape[0] == s.shape[0] * dims:
                        found[bytes(key)] = _Entry(v, t.reshape(s.shape[0], dims), s)
        except sqlite3.Error:
            return found
        return found

    def _shipped_db(self) -> sqlite3.Connection | None:
        """The shipped file, read-only and immutable (it may sit in a read-only install); None without one."""
        if self._shipped is None and self._shipped_path is not None:
            try:
                uri = f"{self._shipped_path.resolve().as_uri()}?mode=ro&immutable=1"
                self._shipped = sqlite3.connect(uri, uri=True, check_same_thread=False)
                self._shipped.execute("SELECT key FROM embedded LIMIT 1").fetchall()
            except (OSError, sqlite3.Error):
                if self._shipped is not None:
                    self._shipped.close()
                self._shipped = None
                self._shipped_path = None  # missing (a trimmed install) or unreadable: computed instead
        return self._shipped

    def _write(self, entries: dict[bytes, _Entry]) -> None:
        with self._lock:
            db = self._db()
            if db is None or not entries:
                return
            rows = [(k, e.vector.tobytes(), e.tokens.tobytes(), e.scales.tobytes()) for k, e in entries.items()]
            # Another process may hold the write lock: then these entries are simply recomputed next time.
            with contextlib.suppress(sqlite3.Error):
                db.executemany("INSERT OR IGNORE INTO embedded(key, vector, tokens, scales) VALUES (?, ?, ?, ?)", rows)


def _batches(keys: list[bytes]) -> Iterator[tuple[list[bytes], str]]:
    """`keys` in batches under SQLite's bound-parameter limit, each with its `?` marks."""
    for start in range(0, len(keys), 500):
        batch = keys[start : start + 500]
        yield batch, ",".join("?" * len(batch))
