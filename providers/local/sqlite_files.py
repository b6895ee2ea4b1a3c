"""How the local providers open their SQLite files: one place for the connection settings they share."""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["connect"]


def connect(path: Path) -> sqlite3.Connection:
    """A connection to `path` (its folder created) in WAL mode, autocommit, usable from any thread.

    WAL lets readers go on while one writer commits; `synchronous=NORMAL` survives a process crash
    (a power loss may drop the last commits). Raises `OSError` or `sqlite3.Error`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10.0, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection
