"""Where the CLI keeps its state, said once, and settable once.

Without `PIPELINE_DATA_DIR` the state folder is `.pipeline/` under the current folder, so a command run from
another folder starts a new one that holds only the bundled sample corpus. Two things make that visible and
avoidable:

- the user settings file, `$PIPELINE_CONFIG` or `~/.config/durable-ai-pipeline/settings.env` (`$XDG_CONFIG_HOME`
  is honoured): `NAME=value` lines, read before anything else. Variables set in the environment win over it,
  so one shell can still point elsewhere. Relative paths in it are relative to the file's folder.
- a notice on stderr when a command is about to create a state folder: where, and what it holds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["announce_new_state_folder", "load_user_settings", "user_settings_file"]

_PATH_SETTINGS = frozenset({"PIPELINE_DATA_DIR"})


def user_settings_file() -> Path:
    explicit = os.environ.get("PIPELINE_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "durable-ai-pipeline" / "settings.env"


def load_user_settings() -> Path | None:
    """Put the settings file's values into the environment, under what is already set; the file read, if any.

    The CLI does this before the settings are first parsed, so every part of the process (and the hosts it
    starts) sees one configuration.
    """
    path = user_settings_file()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            print(f"pipeline: warning: {path}:{number}: not NAME=value, ignored", file=sys.stderr)
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if name.upper() in _PATH_SETTINGS and value:
            value = str((path.parent / Path(value).expanduser()).resolve())
        os.environ.setdefault(name, value)
    return path


def announce_new_state_folder(folder: Path) -> None:
    """Say once, on stderr, that a state folder is about to be made here (the next command finds it)."""
    if folder.exists():
        return
    print(
        f"pipeline: new state folder {folder}: it holds only the bundled sample corpus until you "
        "`pipeline index` your documents. To use one folder from every directory, set PIPELINE_DATA_DIR "
        f"in {user_settings_file()} (a line PIPELINE_DATA_DIR=/path/to/folder)",
        file=sys.stderr,
        flush=True,
    )
