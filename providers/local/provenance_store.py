"""The local `ProvenanceStore`: one SQLite file beside the index (`index/provenance.sqlite`).

`citations` is keyed by (instance id, the chunk id as first cited) and indexed on the chunk id it
points at now and on its source, both partial indexes over live rows only: "which answers cited
this chunk?" and "which answers cite this document?" are one index lookup each, however many
answers are recorded (see bench/RESULTS-stale.md). `changing` is the intent log of a re-index,
`findings` what it found, and `stale_events` the outbox of Stale events, written before they are
published and marked once they are out.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from providers.errors import ProviderError
from providers.local.sqlite_files import connect, write_transaction
from providers.provenance import (
    AnswerRecord,
    CitedPassage,
    Finding,
    PendingStale,
    StaleMark,
)

__all__ = ["PROVENANCE_FILE", "SqliteProvenanceStore"]

PROVENANCE_FILE = "provenance.sqlite"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS answers (
        instance_id TEXT PRIMARY KEY,
        question TEXT NOT NULL,
        scopes TEXT NOT NULL,
        metadata TEXT,
        answered_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS citations (
        instance_id TEXT NOT NULL REFERENCES answers(instance_id) ON DELETE CASCADE,
        cited_id TEXT NOT NULL,
        chunk_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        source TEXT NOT NULL,
        page INTEGER,
        stale INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (instance_id, cited_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS citations_chunk ON citations (chunk_id) WHERE stale = 0",
    "CREATE INDEX IF NOT EXISTS citations_source ON citations (source) WHERE stale = 0",
    "CREATE TABLE IF NOT EXISTS changing (source TEXT PRIMARY KEY, since TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS findings (
        instance_id TEXT NOT NULL,
        chunk_id TEXT NOT NULL,
        source TEXT NOT NULL,
        page INTEGER,
        change TEXT NOT NULL,
        found_at TEXT NOT NULL,
        PRIMARY KEY (instance_id, chunk_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS stale_events (
        id TEXT PRIMARY KEY,
        instance_id TEXT NOT NULL,
        data TEXT NOT NULL,
        superseded_by TEXT,
        created_at TEXT NOT NULL,
        published_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS stale_events_pending ON stale_events (created_at) WHERE published_at IS NULL",
    "CREATE INDEX IF NOT EXISTS stale_events_instance ON stale_events (instance_id, created_at)",
)


class SqliteProvenanceStore:
    """`ProvenanceStore` on SQLite; safe to share between the threads of a process, and across processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None  # opened on first use

    @classmethod
    def in_index_dir(cls, index_dir: Path | str) -> SqliteProvenanceStore:
        return cls(Path(index_dir) / PROVENANCE_FILE)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                db = connect(self.path)
                db.execute("PRAGMA foreign_keys=ON")
                db.execute("PRAGMA busy_timeout=10000")
                db.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute("COMMIT")
            except (OSError, sqlite3.Error) as error:
                raise ProviderError.configuration(f"cannot open the provenance store {self.path}: {error}") from error
            self._db = db
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, write_transaction(self._connection(), self.path, "the provenance store") as db:
            yield db

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._connection().execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as error:
                raise ProviderError.transient(f"reading the provenance store failed: {error}") from error

    # -- answers ------------------------------------------------------------------------------

    def record_answer(self, record: AnswerRecord) -> None:
        metadata = json.dumps(dict(record.metadata), sort_keys=True) if record.metadata else None
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO answers (instance_id, question, scopes, metadata, answered_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (record.instance_id, record.question, json.dumps(list(record.scopes)), metadata, record.answered_at),
            )
            db.executemany(
                "INSERT OR IGNORE INTO citations (instance_id, cited_id, chunk_id, content_hash, source, page)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (record.instance_id, c.chunk_id, c.chunk_id, c.content_hash, c.source, c.page)
                    for c in record.citations
                ],
            )

    def answer(self, instance_id: str) -> AnswerRecord | None:
        rows = self._read(
            "SELECT question, scopes, metadata, answered_at FROM answers WHERE instance_id = ?", (instance_id,)
        )
        if not rows:
            return None
        question, scopes, metadata, answered_at = rows[0]
        cited = self._read(
            "SELECT cited_id, content_hash, source, page FROM citations WHERE instance_id = ?", (instance_id,)
        )
        return AnswerRecord(
            instance_id=instance_id,
            question=question,
            answered_at=answered_at,
            citations=tuple(CitedPassage(*row) for row in cited),
            scopes=tuple(json.loads(scopes)),
            metadata=json.loads(metadata) if metadata else None,
        )

    def answers_citing(self, chunk_id: str) -> list[str]:
        rows = self._read("SELECT DISTINCT instance_id FROM citations WHERE chunk_id = ? AND stale = 0", (chunk_id,))
        return [row[0] for row in rows]

    def live_citations(self, source: str) -> list[tuple[str, CitedPassage]]:
        rows = self._read(
            "SELECT instance_id, chunk_id, content_hash, source, page FROM citations WHERE source = ? AND stale = 0",
            (source,),
        )
        return [(row[0], CitedPassage(*row[1:])) for row in rows]

    def cited_sources(self) -> list[str]:
        return [row[0] for row in self._read("SELECT DISTINCT source FROM citations WHERE stale = 0")]

    # -- a re-index ---------------------------------------------------------------------------

    def mark_changing(self, sources: Sequence[str], *, now: str) -> None:
        with self._write() as db:
            db.executemany("INSERT OR IGNORE INTO changing (source, since) VALUES (?, ?)", [(s, now) for s in sources])

    def changing(self) -> list[str]:
        return [row[0] for row in self._read("SELECT source FROM changing ORDER BY since, source")]

    def settle(self, source: str, moved: Mapping[tuple[str, str], str], findings: Sequence[Finding]) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE OR IGNORE citations SET chunk_id = ? WHERE instance_id = ? AND chunk_id = ? AND stale = 0",
                [(new, instance_id, old) for (instance_id, old), new in moved.items()],
            )
            db.executemany(
                "UPDATE citations SET stale = 1 WHERE instance_id = ? AND chunk_id = ? AND stale = 0",
                [(f.instance_id, f.chunk_id) for f in findings],
            )
            db.executemany(
                "INSERT OR IGNORE INTO findings (instance_id, chunk_id, source, page, change, found_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(f.instance_id, f.chunk_id, f.source, f.page, f.change, f.found_at) for f in findings],
            )
            db.execute("DELETE FROM changing WHERE source = ?", (source,))

    def unsealed(self) -> list[Finding]:
        rows = self._read(
            "SELECT instance_id, chunk_id, source, page, change, found_at FROM findings ORDER BY instance_id, chunk_id"
        )
        return [Finding(*row) for row in rows]

    def seal(self, events: Sequence[PendingStale], findings: Sequence[Finding]) -> None:
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO stale_events (id, instance_id, data, superseded_by, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(e.id, e.instance_id, _json(e.data), e.superseded_by, e.data["detected_at"]) for e in events],
            )
            db.executemany(
                "DELETE FROM findings WHERE instance_id = ? AND chunk_id = ?",
                [(f.instance_id, f.chunk_id) for f in findings],
            )

    # -- the outbox of Stale events ------------------------------------------------------------

    def pending(self, limit: int = 500) -> list[PendingStale]:
        rows = self._read(
            "SELECT id, instance_id, data, superseded_by FROM stale_events WHERE published_at IS NULL"
            " ORDER BY created_at, id LIMIT ?",
            (limit,),
        )
        return [PendingStale(row[0], row[1], json.loads(row[2]), row[3]) for row in rows]

    def mark_published(self, event_ids: Sequence[str], *, now: str) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE stale_events SET published_at = ? WHERE id = ? AND published_at IS NULL",
                [(now, event_id) for event_id in event_ids],
            )

    def stale_mark(self, instance_id: str) -> StaleMark | None:
        rows = self._read(
            "SELECT id, data, superseded_by, published_at FROM stale_events WHERE instance_id = ?"
            " ORDER BY created_at DESC, id LIMIT 1",
            (instance_id,),
        )
        if not rows:
            return None
        event_id, raw, superseded_by, published_at = rows[0]
        data = json.loads(raw)
        pages: dict[str, list[int]] = {}
        for passage in data.get("passages", []):
            if passage.get("page") is not None:
                pages.setdefault(passage["source"], []).append(passage["page"])
        return StaleMark(
            event_id=event_id,
            detected_at=data["detected_at"],
            sources=tuple(data.get("sources", [])),
            superseded_by=superseded_by,
            published=published_at is not None,
            pages={source: tuple(sorted(set(p))) for source, p in pages.items()},
        )

    def stale_counts(self) -> dict[str, int]:
        rows = self._read("SELECT source, count(DISTINCT instance_id) FROM citations WHERE stale = 1 GROUP BY source")
        return {row[0]: row[1] for row in rows}

    def prune(self, *, before: str) -> int:
        with self._write() as db:
            return db.execute("DELETE FROM answers WHERE answered_at < ?", (before,)).rowcount

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _json(data: Mapping[str, object]) -> str:
    return json.dumps(dict(data), sort_keys=True)
