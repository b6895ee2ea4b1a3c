"""The SQLite file that holds all durable state, and the durable engine's reads and writes of it.

One file, WAL, ``synchronous`` as ``PIPELINE_DURABILITY`` says (durability.py): NORMAL survives a process crash
(kill -9), and a power loss may lose the last commits (WAL frames not yet synced), never corrupt the file; FULL
survives the power loss too. The file carries a schema version (``PRAGMA user_version``). Only the host's engine
writes the durable tables, from one thread, so there is no lock contention; the local queue may be written by
other processes (a CLI ``enqueue``), which ``busy_timeout`` covers.

:class:`DurableStore` holds every SQL statement of the engine (instances, history, inbox, work items, timers,
sub-orchestration links, entities); :func:`transaction` is the one way anything here opens a write transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from embedded_host.durable.durability import synchronous_mode
from embedded_host.durable.history import HistoryEvent, load_event
from embedded_host.durable.suborchestrations import ParentLink
from embedded_host.functions.config import HostConfigError
from embedded_host.outage import WriteOutage

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "DurableStore",
    "InboxEvent",
    "InstanceRow",
    "StateFileError",
    "Timer",
    "WorkItem",
    "connect",
    "transaction",
]

# `PRAGMA user_version` of a state file this host writes; a file from before versions were kept reads 0.
SCHEMA_VERSION = 1
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    runtime_status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    failure TEXT,
    created_time TEXT NOT NULL,
    last_updated_time TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    engine_state TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS instances_by_status ON instances(runtime_status);
CREATE INDEX IF NOT EXISTS instances_by_created ON instances(created_time, instance_id);
CREATE INDEX IF NOT EXISTS instances_by_updated ON instances(last_updated_time);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_by_instance ON inbox(instance_id);
CREATE TABLE IF NOT EXISTS work_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    lease_owner TEXT,
    lease_expires REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS work_items_by_instance ON work_items(instance_id);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    timer_id INTEGER NOT NULL,
    fire_at REAL NOT NULL,
    fire_at_text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_by_instance ON timers(instance_id);
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body BLOB NOT NULL,
    content_type TEXT,
    correlation_id TEXT,
    application_properties TEXT NOT NULL DEFAULT '{}',
    enqueued_time REAL NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    locked_until REAL,
    lock_token TEXT,
    state TEXT NOT NULL DEFAULT 'active',
    last_error TEXT,
    dead_letter_reason TEXT,
    dead_letter_description TEXT,
    dead_lettered_time REAL
);
CREATE INDEX IF NOT EXISTS queue_ready ON queue_messages(queue, state, seq);
CREATE TABLE IF NOT EXISTS sub_orchestrations (
    instance_id TEXT PRIMARY KEY,
    parent_instance_id TEXT NOT NULL,
    parent_execution_id TEXT NOT NULL,
    parent_name TEXT NOT NULL,
    task_id INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entities (
    entity_id TEXT PRIMARY KEY,
    state TEXT,
    last_modified_time TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entity_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_id TEXT NOT NULL,
    request TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entity_requests_by_entity ON entity_requests(entity_id, id);
"""


class StateFileError(HostConfigError):
    """The state file is not one this host can use (not a database, damaged, another schema); it is left as is."""


def connect(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open the state file with the pragmas every user of it needs, creating the schema if missing.

    A file that is not a database, is damaged, or holds another schema raises `StateFileError`, which names
    the file and the way out (move it aside): the host never deletes or rewrites it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: transactions are explicit (`transaction`), never implicit.
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=check_same_thread, timeout=30.0)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        fresh = _check_schema(conn, path)  # before WAL mode, which would rewrite a foreign file's header
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous_mode()}")
        conn.executescript(SCHEMA)  # idempotent: also adds what a newer release added to an older file
        if fresh:  # a new file, or one from before the version was kept: same tables, now versioned
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_NOTADB, _SQLITE_CORRUPT):
            raise StateFileError(unusable_file(path, f"is not a SQLite database or is damaged ({exc})")) from None
        raise
    except StateFileError:
        conn.close()
        raise
    return conn


def _check_schema(conn: sqlite3.Connection, path: Path) -> bool:
    """Refuse a file of another program or version (reading only); True when the schema is still to be made."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return False
    if version != 0:
        raise StateFileError(
            unusable_file(path, f"has schema version {version}, and this host reads version {SCHEMA_VERSION}")
        )
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "instances" not in tables:
        raise StateFileError(unusable_file(path, "is a SQLite database of something else (no `instances` table)"))
    return True


def unusable_file(path: Path, problem: str) -> str:
    """One line for a file that cannot be used: which, why, and what to do (it is never deleted for you)."""
    return (
        f"{path} {problem}: move it aside (mv '{path}' '{path}.unusable') to start with an empty one, "
        "or put back the file that belongs there; pipeline never deletes it"
    )


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; on any error (a cancellation too) roll back and re-raise.

    IMMEDIATE takes the write lock up front, so a transaction never fails half-way on a lock upgrade.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (e.g. a full disk)
            conn.execute("ROLLBACK")
        raise


class WorkItem(NamedTuple):
    """An activity call to run: a ``work_items`` row without its lease."""

    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


class Timer(NamedTuple):
    """A durable timer; ordered by when it is due (then by row), so the engine keeps them in a heap."""

    fire_at: float
    id: int
    instance_id: str
    execution_id: str
    timer_id: int
    fire_at_text: str


class InboxEvent(NamedTuple):
    """A new event for an instance and its ``inbox`` row (None while it lives only in memory)."""

    event: HistoryEvent
    inbox_id: int | None


class InstanceRow(NamedTuple):
    """An ``instances`` row as the engine reads it back."""

    instance_id: str
    name: str
    runtime_status: str
    execution_id: str
    input: str | None
    output: str | None
    custom_status: str | None
    engine_state: str


_INSTANCE = (
    "SELECT instance_id, name, runtime_status, execution_id, input, output, custom_status, engine_state FROM instances"
)


class DurableStore:
    """The durable engine's SQL, one method per thing it reads or writes; writes run inside `transaction`."""

    def __init__(self, conn: sqlite3.Connection, outage: WriteOutage | None = None) -> None:
        self.conn = conn
        self.outage = outage

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`transaction`; a commit that goes through also ends a write outage (see outage.py)."""
        with transaction(self.conn) as conn:
            yield conn
        if self.outage is not None:
            self.outage.succeeded()

    # -- instances -------------------------------------------------------------------------------------------
    def runtime_status(self, instance_id: str) -> str | None:
        row = self.conn.execute("SELECT runtime_status FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        return None if row is None else str(row[0])

    def instance(self, instance_id: str) -> InstanceRow | None:
        row = self.conn.execute(_INSTANCE + " WHERE instance_id = ?", (instance_id,)).fetchone()
        return None if row is None else InstanceRow(*row)

    def live_instances(self) -> list[InstanceRow]:
        """Instances still to run (Pending, Running, Suspended)."""
        sql = _INSTANCE + " WHERE runtime_status IN ('Pending', 'Running', 'Suspended')"
        return [InstanceRow(*row) for row in self.conn.execute(sql)]

    def instance_ids(self) -> list[str]:
        """Every instance id, oldest first."""
        return [row[0] for row in self.conn.execute("SELECT instance_id FROM instances ORDER BY created_time")]

    def create_instance(self, instance_id: str, name: str, input_text: str | None, execution_id: str, now: str) -> None:
        self.conn.execute(
            "INSERT INTO instances (instance_id, name, runtime_status, input, created_time, last_updated_time,"
            " execution_id, engine_state) VALUES (?, ?, 'Pending', ?, ?, ?, ?, '{}')",
            (instance_id, name, input_text, now, now, execution_id),
        )

    def save_progress(self, instance_id: str, status: str, custom: str | None, now: str, state: str) -> None:
        """After an episode that did not end the instance."""
        self.conn.execute(
            "UPDATE instances SET runtime_status = ?, custom_status = ?, last_updated_time = ?, engine_state = ?"
            " WHERE instance_id = ?",
            (status, custom, now, state, instance_id),
        )

    def suspend(self, instance_id: str, now: str) -> None:
        self.conn.execute(
            "UPDATE instances SET runtime_status = 'Suspended', last_updated_time = ? WHERE instance_id = ?",
            (now, instance_id),
        )

    def new_execution(
        self, instance_id: str, execution_id: str, input_text: str | None, custom: str | None, now: str
    ) -> None:
        """Continue-as-new: the execution's history, work items and timers go; the inbox stays."""
        self._delete_rows(instance_id, "history", "work_items", "timers")
        self.conn.execute(
            "UPDATE instances SET runtime_status = 'Running', input = ?, custom_status = ?, output = NULL,"
            " last_updated_time = ?, execution_id = ?, engine_state = '{}' WHERE instance_id = ?",
            (input_text, custom, now, execution_id, instance_id),
        )

    def finish(
        self,
        instance_id: str,
        status: str,
        output: str | None,
        custom: str | None,
        failure: str | None,
        now: str,
        state: str,
    ) -> None:
        """A terminal status: nothing is left to deliver or run."""
        self._delete_rows(instance_id, "inbox", "work_items", "timers")
        self.conn.execute(
            "UPDATE instances SET runtime_status = ?, output = ?, custom_status = ?, failure = ?,"
            " last_updated_time = ?, engine_state = ? WHERE instance_id = ?",
            (status, output, custom, failure, now, state, instance_id),
        )

    def rewind(self, instance_id: str, now: str, state: str) -> None:
        """A rewound instance runs again: its history goes (the caller writes the rewritten one)."""
        self._delete_rows(instance_id, "history")
        self.conn.execute(
            "UPDATE instances SET runtime_status = 'Running', output = NULL, failure = NULL, last_updated_time = ?,"
            " engine_state = ? WHERE instance_id = ?",
            (now, state, instance_id),
        )

    def purge(self, instance_id: str) -> int:
        """Delete the instance and everything of it (its own parent link too; its children keep theirs)."""
        self._delete_rows(instance_id, "history", "inbox", "work_items", "timers", "sub_orchestrations")
        return self.conn.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,)).rowcount

    def _delete_rows(self, instance_id: str, *tables: str) -> None:
        for table in tables:
            self.conn.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))

    # -- history and inbox -----------------------------------------------------------------------------------
    def history(self, instance_id: str) -> list[str]:
        """The instance's history events as JSON text, in order."""
        sql = "SELECT event FROM history WHERE instance_id = ? ORDER BY seq"
        return [row[0] for row in self.conn.execute(sql, (instance_id,))]

    def append_history(self, instance_id: str, first_seq: int, texts: list[str]) -> None:
        rows = [(instance_id, seq, text) for seq, text in enumerate(texts, first_seq)]
        self.conn.executemany("INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)", rows)

    def deliver(self, instance_id: str, ev: HistoryEvent) -> InboxEvent:
        """Put an event in the instance's inbox."""
        cur = self.conn.execute("INSERT INTO inbox (instance_id, event) VALUES (?, ?)", (instance_id, json.dumps(ev)))
        return InboxEvent(ev, cur.lastrowid)

    def inbox(self, instance_id: str) -> list[InboxEvent]:
        sql = "SELECT event, id FROM inbox WHERE instance_id = ? ORDER BY id"
        return [InboxEvent(load_event(text), row_id) for text, row_id in self.conn.execute(sql, (instance_id,))]

    def take_from_inbox(self, inbox_ids: Iterable[int]) -> None:
        self.conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in inbox_ids])

    # -- work items and timers -------------------------------------------------------------------------------
    def add_work_item(self, item: WorkItem, owner: str, lease_expires: float) -> WorkItem:
        """Insert a work item leased to ``owner``; returns it with the id the row got."""
        cur = self.conn.execute(
            "INSERT INTO work_items (instance_id, execution_id, task_id, name, input, lease_owner, lease_expires)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*item[1:], owner, lease_expires),
        )
        return item._replace(id=int(cur.lastrowid or 0))

    def take_work_item(self, row_id: int) -> bool:
        """Delete a finished work item; False when it was gone already (its instance ended or restarted)."""
        return bool(self.conn.execute("DELETE FROM work_items WHERE id = ?", (row_id,)).rowcount)

    def lease_all_work(self, owner: str, lease_expires: float) -> list[WorkItem]:
        """Take over every work item (after a restart the previous owner is gone), counting an attempt."""
        self.conn.execute(
            "UPDATE work_items SET lease_owner = ?, lease_expires = ?, attempts = attempts + 1", (owner, lease_expires)
        )
        return self.work_items()

    def work_items(self) -> list[WorkItem]:
        sql = "SELECT id, instance_id, execution_id, task_id, name, input FROM work_items ORDER BY id"
        return [WorkItem(*row) for row in self.conn.execute(sql)]

    def add_timer(self, timer: Timer) -> Timer:
        """Insert a timer; returns it with the id the row got."""
        cur = self.conn.execute(
            "INSERT INTO timers (instance_id, execution_id, timer_id, fire_at, fire_at_text) VALUES (?, ?, ?, ?, ?)",
            (timer.instance_id, timer.execution_id, timer.timer_id, timer.fire_at, timer.fire_at_text),
        )
        return timer._replace(id=int(cur.lastrowid or 0))

    def take_timer(self, row_id: int) -> bool:
        """Delete a fired timer; False when it was gone already."""
        return bool(self.conn.execute("DELETE FROM timers WHERE id = ?", (row_id,)).rowcount)

    def timers(self) -> list[Timer]:
        sql = "SELECT fire_at, id, instance_id, execution_id, timer_id, fire_at_text FROM timers"
        return [Timer(*row) for row in self.conn.execute(sql)]

    # -- sub-orchestrations ----------------------------------------------------------------------------------
    def link_child(self, child_id: str, parent: ParentLink) -> None:
        """Record (or, for a re-created child, replace) which parent task the child answers to."""
        self.conn.execute(
            "INSERT OR REPLACE INTO sub_orchestrations (instance_id, parent_instance_id, parent_execution_id,"
            " parent_name, task_id) VALUES (?, ?, ?, ?, ?)",
            (child_id, *parent),
        )

    def parent_of(self, child_id: str) -> ParentLink | None:
        row = self.conn.execute(
            "SELECT parent_instance_id, parent_execution_id, parent_name, task_id FROM sub_orchestrations"
            " WHERE instance_id = ?",
            (child_id,),
        ).fetchone()
        return ParentLink(*row) if row is not None else None

    # -- entities --------------------------------------------------------------------------------------------
    def queue_request(self, entity_id: str, request_text: str) -> None:
        self.conn.execute("INSERT INTO entity_requests (entity_id, request) VALUES (?, ?)", (entity_id, request_text))

    def entities_with_requests(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT DISTINCT entity_id FROM entity_requests")}

    def take_requests(self, entity_id: str, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Remove and return the entity's oldest ``limit`` requests, and whether more are queued."""
        rows = self.conn.execute(
            "SELECT id, request FROM entity_requests WHERE entity_id = ? ORDER BY id LIMIT ?", (entity_id, limit + 1)
        ).fetchall()
        taken = rows[:limit]
        self.conn.executemany("DELETE FROM entity_requests WHERE id = ?", [(row_id,) for row_id, _ in taken])
        return [json.loads(text) for _, text in taken], len(rows) > limit

    def entity(self, entity_id: str) -> tuple[bool, str | None]:
        """Whether the entity exists, and its state as JSON text."""
        row = self.conn.execute("SELECT state FROM entities WHERE entity_id = ?", (entity_id,)).fetchone()
        return row is not None, None if row is None else row[0]

    def save_entity(self, entity_id: str, state: str | None, stamp: str) -> None:
        self.conn.execute(
            "INSERT INTO entities (entity_id, state, last_modified_time) VALUES (?, ?, ?)"
            " ON CONFLICT(entity_id) DO UPDATE SET state = excluded.state,"
            " last_modified_time = excluded.last_modified_time",
            (entity_id, state, stamp),
        )

    def delete_entity(self, entity_id: str) -> None:
        self.conn.execute("DELETE FROM entities WHERE entity_id = ?", (entity_id,))
