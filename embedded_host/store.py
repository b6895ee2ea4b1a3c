"""The SQLite file that holds all durable state: instances, history, inbox, work items, timers, queues.

One file, WAL, ``synchronous=NORMAL``: a commit survives a process crash (kill -9); a power loss may lose the
last few commits (WAL frames not yet checkpointed to disk), never corrupt the file. Only the host's engine
writes the durable tables, from one thread, so there is no lock contention; the local queue may be written by
other processes (a CLI ``enqueue``), which ``busy_timeout`` covers.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["SCHEMA", "connect"]

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
"""


def connect(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open the state file with the pragmas every user of it needs, creating the schema if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT), never implicit.
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=check_same_thread, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(SCHEMA)
    return conn
