"""The data directory is private: it holds every question and answer (durable state, event logs) and the keys.

Created ``0700``, and the process's umask tightened to ``077`` so that every file made in it afterwards (the
SQLite files and their WAL, the event log, the index) is readable by its owner only, whoever creates it:
the host, the app's providers in the same process, or SQLite itself.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "private_state"]

log = logging.getLogger("embedded_host")

PRIVATE_UMASK = 0o077


def private_state(data_dir: Path) -> None:
    """Tighten the umask for the rest of the process and create ``data_dir`` owner-only."""
    if os.name != "posix":
        return  # Windows: the folder inherits its parent's ACL
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)
    data_dir = Path(data_dir)
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(data_dir, 0o700)  # mkdir's mode is masked; say it exactly
        return
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & 0o077:
        # An existing folder may be shared on purpose; say so rather than change it behind the user's back.
        log.warning("%s is readable by other users (mode %o); `chmod 700` it to keep the runs private", data_dir, mode)
