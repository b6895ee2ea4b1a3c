"""How the local providers open their SQLite files: one place for the connection settings they share."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

__all__ = ["cannot_write", "connect", "full_disk_note"]

_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EIO)


def cannot_write(error: BaseException) -> bool:
    """Whether `error` is the storage refusing a write (a full disk or an I/O error), not a bug or a lock.

    SQLite rolls back the transaction it happened in, so the file holds what it held before.
    """
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in (_SQLITE_FULL, _SQLITE_IOERR)
        return "disk is full" in str(error).lower() or "disk i/o error" in str(error).lower()
    return isinstance(error, OSError) and error.errno in _NO_SPACE


def full_disk_note(path: Path, error: BaseException) -> str:
    """The words for a refused write: which file, why, and that nothing was half-written."""
    return f"cannot write {path}: the disk is full or failing ({error}); it is unchanged: free space and try again"


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
