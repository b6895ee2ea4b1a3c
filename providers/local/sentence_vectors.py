"""Sentence vectors for the local answerer, computed once per sentence and kept on disk.

The answerer compares the question with every sentence of the retrieved passages. Embedding 20–30
sentences per question would cost 80–120 ms on one core, so each sentence's vector is stored by a
hash of (model, text) in a small SQLite file and in memory: a corpus's sentences are embedded once
(at indexing, or the first time a passage is read), and a warm answer reads vectors in well under
a millisecond. Text-addressed, so it serves passages from any retriever and never goes stale: an
edited sentence is a new key.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from hashlib import blake2b
from pathlib import Path
from typing import Protocol

import numpy as np

from providers.local.sqlite_files import connect

__all__ = ["ArrayEmbedder", "SentenceVectors"]


class ArrayEmbedder(Protocol):
    @property
    def model(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed_array(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceVectors:
    """`vectors(texts)` through an in-memory LRU, then the SQLite file (when given), then the model."""

    def __init__(self, embedder: ArrayEmbedder, path: str | Path | None = None, *, memory: int = 50_000) -> None:
        self._embedder = embedder
        self._path = Path(path) if path is not None else None
        self._memory: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._capacity = memory
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @property
    def model(self) -> str:
        return self._embedder.model

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of `texts`, one row each, in order."""
        out = np.zeros((len(texts), self._embedder.dimensions), dtype=np.float32)
        keys = [self._key(text) for text in texts]
        missing: dict[bytes, list[int]] = {}
        with self._lock:
            for row, key in enumerate(keys):
                found = self._memory.get(key)
                if found is None:
                    missing.setdefault(key, []).append(row)
                else:
                    self._memory.move_to_end(key)
                    out[row] = found
            stored = self._read(list(missing))
        for key, vector in stored.items():
            for row in missing.pop(key):
                out[row] = vector
        if missing:
            rows = [positions[0] for positions in missing.values()]
            computed = self._embedder.embed_array([texts[row] for row in rows])
            for (key, positions), vector in zip(missing.items(), computed, strict=True):
                out[positions] = vector
                stored[key] = vector
            self._write({key: stored[key] for key in missing})
        with self._lock:
            for key, vector in stored.items():
                self._memory[key] = vector
            while len(self._memory) > self._capacity:
                self._memory.popitem(last=False)
        return out

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _key(self, text: str) -> bytes:
        return blake2b(f"{self._embedder.model}\0{text}".encode(), digest_size=16).digest()

    def _db(self) -> sqlite3.Connection | None:
        if self._path is None:
            return None
        if self._connection is None:
            try:
                connection = connect(self._path)
                connection.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
            except (OSError, sqlite3.Error):
                self._path = None  # a cache that cannot be opened is no cache, not a failure
                return None
            self._connection = connection
        return self._connection

    def _read(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        db = self._db() if keys else None
        if db is None:
            return {}
        found: dict[bytes, np.ndarray] = {}
        try:
            for start in range(0, len(keys), 500):  # under SQLite's bound-parameter limit
                batch = keys[start : start + 500]
                marks = ",".join("?" * len(batch))
                for key, blob in db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch):
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape[0] == self._embedder.dimensions:
                        found[bytes(key)] = vector
        except sqlite3.Error:
            return found
        return found

    def _write(self, vectors: dict[bytes, np.ndarray]) -> None:
        with self._lock:
            db = self._db()
            if db is None or not vectors:
                return
            rows = [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in vectors.items()]
            # Another process may hold the write lock: then these vectors are simply recomputed next time.
            with contextlib.suppress(sqlite3.Error):
                db.executemany("INSERT OR IGNORE INTO vectors(key, vector) VALUES (?, ?)", rows)
