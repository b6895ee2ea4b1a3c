"""The note a running `pipeline serve` keeps in its state folder: where it listens and which app it serves.

Two hosts never share a state folder (the host's own lock), so while `pipeline serve` runs, `pipeline ask` on
the same folder cannot start a host of its own. With this note it hands the question to the running one over
the routes a producer uses, instead of failing. The note is held under an advisory lock for the serve's
lifetime: the operating system drops the lock with the process, so the note of a killed serve reads as absent.
Without `fcntl` (Windows) there is no note, and `ask` says that a host is running, as before.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["RECORD_FILE", "ServeRecord", "published", "running_serve"]

RECORD_FILE = "serve.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeRecord:
    url: str  # a URL this machine reaches the host at (loopback for a wildcard bind)
    app: Path  # the app folder it serves
    keys: bool  # its routes need a key: it listens beyond loopback


@contextmanager
def published(data_dir: Path, record: ServeRecord) -> Iterator[None]:
    """Keep `record` as the state folder's note for the duration of the `with` block."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = Path(data_dir) / RECORD_FILE
    temp = path.with_name(f".{RECORD_FILE}.{os.getpid()}")
    held: IO[str] | None = None
    try:
        held = open(temp, "w", encoding="utf-8")  # noqa: SIM115 - held until the block ends
        # Locked before it is renamed into place, and renamed once written: a reader that finds the note finds
        # it whole and locked.
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        json.dump({"url": record.url, "app": str(record.app), "keys": record.keys, "pid": os.getpid()}, held)
        held.flush()
        os.replace(temp, path)
    except OSError as error:  # a full disk, say: the serve runs on; an ask on its folder says a host is running
        log.warning("cannot write %s (%s): `pipeline ask` on this folder will not be sent to this serve", path, error)
        if held is not None:
            held.close()
        with suppress(OSError):
            temp.unlink()
        yield
        return
    with held:
        try:
            yield
        finally:
            path.unlink(missing_ok=True)  # while still locked: no reader sees an unlocked note of a live serve


def running_serve(data_dir: Path) -> ServeRecord | None:
    """The note of the `pipeline serve` running on `data_dir`; None when none runs (or its note is not readable)."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        note = open(Path(data_dir) / RECORD_FILE, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        return None
    with note:
        try:
            fcntl.flock(note.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: its serve is alive
            try:
                data = json.load(note)
                return ServeRecord(url=str(data["url"]), app=Path(data["app"]), keys=bool(data["keys"]))
            except (ValueError, KeyError, TypeError):
                return None
        return None  # not held: a killed serve's note
