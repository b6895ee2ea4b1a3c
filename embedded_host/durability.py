"""What a commit to the state file survives: a process crash (the default) or a power cut too.

SQLite in WAL mode with ``synchronous=NORMAL`` syncs the WAL only at checkpoints: a commit is in the OS page
cache when it returns, so it survives ``kill -9`` but a power cut or kernel crash can take the last commits
back (never corrupting the file). ``synchronous=FULL`` syncs the WAL at every commit, so what was acknowledged
(a 202 for a start, a step's result in the history) is on the disk. The app setting ``PIPELINE_DURABILITY``
chooses, read from the environment like every app setting the host resolves: ``process-crash`` (default) or
``power-loss``.
"""

from __future__ import annotations

import os

from .config import HostConfigError

__all__ = ["DURABILITY_SETTING", "MODES", "synchronous_mode"]

DURABILITY_SETTING = "PIPELINE_DURABILITY"
MODES = {"process-crash": "NORMAL", "power-loss": "FULL"}


def synchronous_mode() -> str:
    """The ``PRAGMA synchronous`` value for the configured durability."""
    chosen = os.environ.get(DURABILITY_SETTING, "").strip().lower() or "process-crash"
    if chosen not in MODES:
        raise HostConfigError(f"{DURABILITY_SETTING}={chosen!r}: use one of {', '.join(MODES)}")
    return MODES[chosen]
