"""How the local providers open their SQLite files: one place for the connection settings they share."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from providers.errors import ProviderError

__all__ = [
    "cannot_write",
    "check_schema",
    "connect",
    "full_disk_note",
    "synchronous_mode",
    "unusable_file",
    "write_transaction",
]

_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_NOTADB = 26
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


@contextmanager
def write_transaction(connection: sqlite3.Connection, path: Path, what: str) -> Iterator[sqlite3.Connection]:
    """One `BEGIN IMMEDIATE` … `COMMIT` on `connection`; any failure rolls it back and an SQLite error becomes a
    transient `ProviderError` naming `what` (a refused write: the full-disk note naming `path`)."""
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as error:
        raise ProviderError.transient(f"{what} is busy: {error}") from error
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException as error:
        if connection.in_transaction:  # SQLite may have rolled back already (a full disk does)
            connection.execute("ROLLBACK")
        if cannot_write(error):
            raise ProviderError.transient(full_disk_note(path, error)) from None
        if isinstance(error, sqlite3.Error):
            raise ProviderError.transient(f"writing {what} failed: {error}") from error
        raise


def connect(path: Path, *, schema: tuple[str, int] | None = None) -> sqlite3.Connection:
    """A connection to `path` (its folder created) in WAL mode, autocommit, usable from any thread.

    WAL lets readers go on while one writer commits; `synchronous` follows `PIPELINE_DURABILITY`
    (`synchronous_mode`). `schema` (a table of ours, the version) refuses a file of something else
    (`check_schema`), before WAL mode touches it. A file that is no database raises `ProviderError`
    naming it; otherwise raises `OSError` or `sqlite3.Error`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10.0, check_same_thread=False, isolation_level=None)
    try:
        unversioned = schema is not None and check_schema(connection, path, own_table=schema[0], version=schema[1])
        connection.execute("PRAGMA journal_mode=WAL")
        if unversioned and schema is not None:
            connection.execute(f"PRAGMA user_version = {schema[1]}")
    except sqlite3.DatabaseError as error:
        connection.close()
        if _not_a_database(error):
            raise unusable_file(path, f"is not a SQLite database or is damaged ({error})") from None
        raise
    except ProviderError:
        connection.close()
        raise
    connection.execute(f"PRAGMA synchronous={synchronous_mode()}")
    return connection


def _not_a_database(error: sqlite3.DatabaseError) -> bool:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_NOTADB, _SQLITE_CORRUPT)


def synchronous_mode() -> str:
    """NORMAL survives a process crash (a power cut may take the last commits back); FULL syncs every commit."""
    from config import get_settings

    return "FULL" if get_settings().pipeline_durability == "power-loss" else "NORMAL"


def unusable_file(path: Path, problem: str) -> ProviderError:
    """A file that cannot be used: which, why, and what to do (it is never deleted for the user)."""
    return ProviderError.configuration(
        f"{path} {problem}: move it aside (mv '{path}' '{path}.unusable') to start with an empty one, "
        "or put back the file that belongs there; pipeline never deletes it"
    )


def check_schema(connection: sqlite3.Connection, path: Path, *, own_table: str, version: int) -> bool:
    """Refuse a database that holds another program's tables or another schema version (`connect` refuses
    a file that is no database), reading only. The version is `PRAGMA user_version`; True when the file
    has none yet (new, or from before it was kept) and is to get `version`.
    """
    found = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if found not in (0, version):
        raise unusable_file(path, f"has schema version {found}, and this pipeline reads version {version}")
    if tables and own_table not in tables:
        raise unusable_file(path, f"is a SQLite database of something else (no `{own_table}` table)")
    return found == 0
