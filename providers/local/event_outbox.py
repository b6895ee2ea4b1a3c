"""The durable half of the local event sink: an SQLite outbox and the JSONL files beside it.

`events.sqlite3` holds one row per event (keyed by the CloudEvent id, so a repeated publish is a
no-op) and one delivery row per (event, webhook URL). Workers in any number of processes claim
due delivery rows with a lease, so two of them never POST the same row at the same time.
`events.jsonl` is the append-only log `pipeline events` reads; an event's `logged` flag records
that its line was written, so a crash between the insert and the append is repaired later
instead of losing (or, on a re-publish, duplicating) the line.

Kept apart from `providers.local.events` so the storage rules (transactions, leases, file
locking) can be read and tested without HTTP in the way.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from providers.local.sqlite_files import connect, synchronous_mode

try:  # POSIX: serialises appends across processes, not only threads
    import fcntl
except ImportError:  # pragma: no cover - Windows relies on O_APPEND and the in-process lock
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DB_FILE",
    "EVENTS_FILE",
    "UNDELIVERED_FILE",
    "Delivery",
    "EventOutbox",
    "UnloggedEvent",
    "append_line",
    "append_lines",
    "ids_in_tail",
]

DB_FILE = "events.sqlite3"
EVENTS_FILE = "events.jsonl"
UNDELIVERED_FILE = "events-undelivered.jsonl"

_BUSY_TIMEOUT_MS = 10_000
SCHEMA_VERSION = 1  # PRAGMA user_version

# Statements run one by one inside a transaction: `executescript` would commit first, and two
# processes creating the schema at once must not trip over each other.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        created_at REAL NOT NULL,
        logged INTEGER NOT NULL DEFAULT 0,
        log_claim_until REAL NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS events_unlogged ON events (log_claim_until) WHERE logged = 0",
    """CREATE TABLE IF NOT EXISTS deliveries (
        event_id TEXT NOT NULL,
        url TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        lease_owner TEXT,
        lease_until REAL NOT NULL DEFAULT 0,
        last_error TEXT,
        finished_at REAL,
        PRIMARY KEY (event_id, url)
    )""",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending'",
)

# One process may hold several sinks on the same file; flock covers processes, this covers
# platforms without flock.
_APPEND_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed (event, url) row, ready to POST."""

    event_id: str
    url: str
    body: str
    attempts: int
    created_at: float


@dataclass(frozen=True, slots=True)
class UnloggedEvent:
    """An event stored in the outbox whose line is not (known to be) in events.jsonl."""

    id: str
    body: str


class EventOutbox:
    """The SQLite outbox of one data directory; safe to share between threads of one process."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), so a writer takes the
        # write lock up front instead of failing to upgrade a read lock under contention.
        # WAL, and `synchronous` as PIPELINE_DURABILITY says (NORMAL survives a process crash; only
        # an OS crash or power loss can roll back the last commits, unless power-loss asks for FULL).
        self._db = connect(self.data_dir / DB_FILE, schema=("events", SCHEMA_VERSION))
        self._db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        with self._transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed COMMIT (a full disk) may leave it open, or SQLite closed it
                    self._db.execute("ROLLBACK")
                raise

    # -- publishing -------------------------------------------------------------------------

    def insert(self, event_id: str, body: str, urls: Sequence[str], *, now: float, log_claim_s: float) -> bool:
        """Store an event and its delivery rows in one transaction; False if the id was known.

        The publisher holds the log claim for `log_claim_s`, so a worker does not append the
        same line while the publisher is about to.
        """
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO events (id, body, created_at, logged, log_claim_until) VALUES (?, ?, ?, 0, ?)",
                (event_id, body, now, now + log_claim_s),
            )
            if cursor.rowcount == 0:
                return False
            db.executemany(
                "INSERT OR IGNORE INTO deliveries (event_id, url, created_at, next_attempt_at) VALUES (?, ?, ?, ?)",
                [(event_id, url, now, now) for url in dict.fromkeys(urls)],
            )
            return True

    def insert_many(
        self, events: Sequence[tuple[str, str]], urls: Sequence[str], *, now: float, log_claim_s: float
    ) -> list[str]:
        """`insert` for a batch of (id, body) in one transaction; returns the ids that were new, in order."""
        new: list[str] = []
        with self._transaction() as db:
            for event_id, body in events:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO events (id, body, created_at, logged, log_claim_until)"
                    " VALUES (?, ?, ?, 0, ?)",
                    (event_id, body, now, now + log_claim_s),
                )
                if cursor.rowcount:
                    new.append(event_id)
            db.executemany(
                "INSERT OR IGNORE INTO deliveries (event_id, url, created_at, next_attempt_at) VALUES (?, ?, ?, ?)",
                [(event_id, url, now, now) for event_id in new for url in dict.fromkeys(urls)],
            )
        return new

    def mark_logged(self, event_id: str) -> None:
        self.mark_logged_many([event_id])

    def mark_logged_many(self, event_ids: Sequence[str]) -> None:
        with self._transaction() as db:
            db.executemany("UPDATE events SET logged = 1 WHERE id = ?", [(event_id,) for event_id in event_ids])

    def claim_unlogged(self, *, now: float, claim_s: float, limit: int = 100) -> list[UnloggedEvent]:
        """Events whose publisher crashed (or stalled) before writing their line; claimed for us."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, body FROM events WHERE logged = 0 AND log_claim_until <= ? ORDER BY created_at LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE events SET log_claim_until = ? WHERE id = ?",
                [(now + claim_s, row[0]) for row in rows],
            )
        return [UnloggedEvent(id=row[0], body=row[1]) for row in rows]

    # -- delivering -------------------------------------------------------------------------

    def release_dead_leases(self, is_dead: Callable[[str], bool], *, now: float) -> int:
        """Free rows leased by workers that died mid-delivery, instead of waiting out their lease."""
        with self._transaction() as db:
            owners = [
                row[0]
                for row in db.execute(
                    "SELECT DISTINCT lease_owner FROM deliveries WHERE state = 'pending' AND lease_until > ?"
                    " AND lease_owner IS NOT NULL",
                    (now,),
                )
            ]
            dead = [owner for owner in owners if is_dead(owner)]
            db.executemany(
                "UPDATE deliveries SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ? AND state = 'pending'",
                [(owner,) for owner in dead],
            )
        return len(dead)

    def claim_due(self, owner: str, *, now: float, lease_s: float, limit: int) -> list[Delivery]:
        """Lease up to `limit` pending rows that are due and not leased by a live worker."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT d.event_id, d.url, e.body, d.attempts, d.created_at"
                " FROM deliveries d JOIN events e ON e.id = d.event_id"
                " WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND d.lease_until <= ?"
                " ORDER BY d.next_attempt_at LIMIT ?",
                (now, now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE event_id = ? AND url = ?",
                [(owner, now + lease_s, row[0], row[1]) for row in rows],
            )
        return [Delivery(*row) for row in rows]

    def mark_delivered(self, delivery: Delivery, *, attempts: int, now: float) -> None:
        # No owner check: a 2xx is final even if our lease ran out meanwhile.
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET state = 'delivered', attempts = ?, finished_at = ?,"
                " last_error = NULL, lease_owner = NULL, lease_until = 0"
                " WHERE event_id = ? AND url = ?",
                (attempts, now, delivery.event_id, delivery.url),
            )

    def reschedule(self, delivery: Delivery, owner: str, *, attempts: int, next_attempt_at: float, error: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET attempts = ?, next_attempt_at = ?, last_error = ?,"
                " lease_owner = NULL, lease_until = 0"
                " WHERE event_id = ? AND url = ? AND state = 'pending' AND lease_owner = ?",
                (attempts, next_attempt_at, error, delivery.event_id, delivery.url, owner),
            )

    def mark_dead(self, delivery: Delivery, *, attempts: int, error: str, now: float) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET state = 'dead', attempts = ?, last_error = ?, finished_at = ?,"
                " lease_owner = NULL, lease_until = 0"
                " WHERE event_id = ? AND url = ? AND state = 'pending'",
                (attempts, error, now, delivery.event_id, delivery.url),
            )

    # -- inspecting and housekeeping --------------------------------------------------------

    def next_wakeup(self) -> float | None:
        """The earliest time at which some row may need work (a delivery or a log repair)."""
        with self._lock:
            due = self._db.execute(
                "SELECT MIN(MAX(next_attempt_at, lease_until)) FROM deliveries WHERE state = 'pending'"
            ).fetchone()[0]
            unlogged = self._db.execute("SELECT MIN(log_claim_until) FROM events WHERE logged = 0").fetchone()[0]
        times = [t for t in (due, unlogged) if t is not None]
        return min(times) if times else None

    def counts(self) -> dict[str, int]:
        """Delivery rows by state, plus `unlogged` events; for `flush`, the CLI and tests."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
            unlogged = self._db.execute("SELECT COUNT(*) FROM events WHERE logged = 0").fetchone()[0]
        counts = {"pending": 0, "delivered": 0, "dead": 0}
        counts.update({state: n for state, n in rows})
        counts["unlogged"] = unlogged
        return counts

    def attempts(self, event_id: str, url: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT attempts FROM deliveries WHERE event_id = ? AND url = ?", (event_id, url)
            ).fetchone()
        return row[0] if row else 0

    def prune(self, *, before: float) -> int:
        """Forget finished rows older than `before`; the idempotency window ends there too."""
        with self._transaction() as db:
            removed = db.execute(
                "DELETE FROM deliveries WHERE state != 'pending' AND finished_at < ?", (before,)
            ).rowcount
            removed += db.execute(
                "DELETE FROM events WHERE logged = 1 AND created_at < ? AND NOT EXISTS"
                " (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)",
                (before,),
            ).rowcount
        return removed


def append_line(path: Path, line: str) -> None:
    """Append one full line in a single O_APPEND write under a lock, so concurrent writers
    (threads or processes) never interleave partial lines. A write that fails part-way (a full
    disk) is cut back off, so the file never keeps half a line for the next one to run into."""
    append_lines(path, [line])


def append_lines(path: Path, lines: Sequence[str]) -> None:
    """`append_line` for several lines at once: one write, so a batch costs one lock and one system call
    (and a write that fails part-way is cut back off whole)."""
    data = "".join(line.rstrip("\n") + "\n" for line in lines).encode("utf-8")
    with _APPEND_LOCK:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            start = os.fstat(fd).st_size
            view = memoryview(data)
            try:
                while view:  # a short write is rare on local files; finish the line under the lock
                    view = view[os.write(fd, view) :]
                if synchronous_mode() == "FULL":  # PIPELINE_DURABILITY=power-loss: the line too
                    os.fsync(fd)
            except OSError:
                os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)  # closing releases the flock


def ids_in_tail(path: Path, *, max_bytes: int = 1 << 20) -> set[str]:
    """Ids of the events in the last `max_bytes` of a JSONL file.

    A repair only needs to know whether a crashed publisher got as far as writing its line,
    and such a line is recent; reading the whole log would grow without bound.
    """
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - max_bytes))
            tail = file.read()
    except FileNotFoundError:
        return set()
    lines = tail.split(b"\n")
    if size > max_bytes:
        lines = lines[1:]  # the first line is probably cut
    ids: set[str] = set()
    for raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            ids.add(record["id"])
    return ids
