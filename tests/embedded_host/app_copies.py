"""A copy of a test app folder whose host.json keeps or gives up extended sessions (durable/sessions.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def app_with_sessions(source: Path, dest: Path, enabled: bool) -> Path:
    """Copy the app folder `source` to `dest`, with `extensions.durableTask.extendedSessionsEnabled` set."""
    shutil.copytree(source, dest)
    host_json = json.loads((dest / "host.json").read_text())
    host_json.setdefault("extensions", {}).setdefault("durableTask", {})["extendedSessionsEnabled"] = enabled
    (dest / "host.json").write_text(json.dumps(host_json))
    return dest
