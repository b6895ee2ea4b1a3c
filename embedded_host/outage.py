"""When the state file cannot be written (a full disk, an I/O error): how the host notices, says so and waits.

SQLite answers a write it cannot make with ``SQLITE_FULL`` (the disk or the file system is full) or
``SQLITE_IOERR`` (the write itself failed) and rolls the transaction back: nothing half-written is left, so the
host only has to refuse new work (HTTP 503 with ``Retry-After``), keep what it holds in memory, and try again.
:class:`WriteOutage` is that episode: one warning when the first write fails, one line when a write works again,
however many requests and retries fall in between (a full disk must not also fill the log).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

__all__ = ["RETRY_AFTER_S", "WriteOutage", "cannot_write"]

# What a refused client is told to wait, and the longest the engine waits between two tries.
RETRY_AFTER_S = 2
_FIRST_BACKOFF_S = 0.05

_SQLITE_IOERR = 10
_SQLITE_FULL = 13


def cannot_write(error: BaseException) -> bool:
    """Whether `error` is the storage refusing a write (full, or an I/O error), not a bug or a busy lock."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in (_SQLITE_FULL, _SQLITE_IOERR)
        text = str(error).lower()  # a build without error codes
        return "disk is full" in text or "disk i/o error" in text
    return isinstance(error, OSError) and error.errno is not None and error.errno in (28, 5, 122)  # ENOSPC EIO EDQUOT


class WriteOutage:
    """One episode of refused writes to one file: logged once when it begins and once when it ends."""

    def __init__(self, path: Path, log: logging.Logger) -> None:
        self.path = path
        self.log = log
        self.since: float | None = None
        self.refused = 0
        self.episodes = 0

    @property
    def active(self) -> bool:
        return self.since is not None

    def failed(self, error: BaseException) -> None:
        """A write was refused (the caller checked `cannot_write`)."""
        self.refused += 1
        if self.since is None:
            self.since = time.monotonic()
            self.episodes += 1
            self.log.warning(
                "cannot write %s (%s): new work is refused with 503 and accepted work waits; "
                "it resumes by itself when the disk has room again",
                self.path,
                error,
            )

    def succeeded(self) -> None:
        """A write went through: an episode in progress is over."""
        if self.since is not None:
            self.log.warning(
                "%s is writable again after %.1f s (%d writes refused); resuming",
                self.path,
                time.monotonic() - self.since,
                self.refused,
            )
            self.since = None
            self.refused = 0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1, 2, …): doubling, up to `RETRY_AFTER_S / 2`."""
        return min(RETRY_AFTER_S / 2, _FIRST_BACKOFF_S * 2 ** max(0, attempt - 1))
