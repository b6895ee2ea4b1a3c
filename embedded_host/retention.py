"""How long finished runs are kept: ``PIPELINE_RETENTION_DAYS`` (off by default: kept until purged by hand).

With a number of days set, the engine deletes runs that ended (Completed, Failed, Terminated, Canceled) longer
ago than that, with their history, a batch at a time between its other work, so the state file stops growing
with the number of runs ever made. Running, pending and suspended runs are never touched. Like every app
setting the host resolves, it is read from the environment; fractions of a day are allowed.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from datetime import UTC, datetime

from .config import HostConfigError
from .timeutil import status_time

__all__ = ["RETENTION_SETTING", "expired_runs", "retention_s"]

RETENTION_SETTING = "PIPELINE_RETENTION_DAYS"
_FINISHED = ("Completed", "Failed", "Terminated", "Canceled")


def retention_s() -> float | None:
    """Seconds a finished run is kept, or None when the setting is off (unset or empty)."""
    text = os.environ.get(RETENTION_SETTING, "").strip()
    if not text:
        return None
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not days > 0 or math.isinf(days):
        raise HostConfigError(f"{RETENTION_SETTING}={text!r}: give a number of days above 0, or leave it unset")
    return days * 86_400


def expired_runs(conn: sqlite3.Connection, keep_s: float, limit: int) -> list[str]:
    """Up to `limit` runs that finished more than `keep_s` seconds ago, oldest first."""
    cutoff = status_time(datetime.fromtimestamp(time.time() - keep_s, UTC))
    marks = ", ".join("?" for _ in _FINISHED)
    sql = (
        f"SELECT instance_id FROM instances WHERE last_updated_time < ? AND runtime_status IN ({marks})"
        " ORDER BY last_updated_time LIMIT ?"
    )
    return [row[0] for row in conn.execute(sql, (cutoff, *_FINISHED, limit))]
