"""What `pipeline index` did not do, and why: files it left out, files with no text, an empty run.

Kept apart from the command so the summary it prints stays one place to read; this module only adds
the explanations a first-time user needs.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["empty_sources", "explain_index", "left_out"]


_LISTED = 20  # files listed one by one; beyond that, a count per file type


def left_out(paths: Sequence[str]) -> dict[str, str]:
    """What the walk did not take under the named folders, with the reason: files of a type it does not read,
    and (once each) folders it skips. Dot-files and dot-folders are never documents and are not listed."""
    from ingestion.chunking import kind_for
    from ingestion.sources import walk_files

    taken = {p.resolve() for p in walk_files(paths)}
    reasons: dict[str, str] = {}
    for entry in paths:
        root = Path(entry).expanduser().resolve()
        if not root.is_dir():
            continue  # a file named on the command line is always read
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            here = Path(folder)
            readable = [here / f for f in files if not f.startswith(".") and kind_for(f) is not None]
            if readable and not any(f.resolve() in taken for f in readable):
                reasons[f"{here}/"] = "a folder the walk skips (dependencies, caches, state)"
                dirs[:] = []
                continue
            for name in sorted(files):
                if not name.startswith(".") and kind_for(name) is None:
                    suffix = Path(name).suffix or "(no extension)"
                    reasons[str(here / name)] = (
                        f"file type {suffix} is not read from a folder (name the file to read it as text)"
                    )
    return reasons


def _print_left_out(reasons: dict[str, str]) -> None:
    for source, why in list(reasons.items())[:_LISTED]:
        print(f"skipped {source}: {why}", file=sys.stderr)
    rest = list(reasons)[_LISTED:]
    if rest:
        kinds = Counter(Path(source).suffix or "(folder or no extension)" for source in rest)
        summary = ", ".join(f"{kind} ×{count}" for kind, count in kinds.most_common())
        print(f"skipped {len(rest)} more: {summary}", file=sys.stderr)


def empty_sources(writer: Any, sources: Sequence[str]) -> list[str]:
    """Indexed sources that gave no chunk (empty, or headings only); [] when the index cannot say."""
    chunk_ids = getattr(writer, "chunk_ids", None)
    if not callable(chunk_ids):
        return []
    return [source for source in sources if not chunk_ids(source)]


def explain_index(
    paths: Sequence[str],
    *,
    empty: Sequence[str],
    chunks: int,
    unchanged: int,
    recreate: bool,
    rescoped: int = 0,
    on_azure: bool,
) -> bool:
    """Print what was left out and why, and what the index now holds; True when nothing usable was written."""
    _print_left_out(left_out(paths))
    for source in empty:
        print(f"skipped {source}: no text to index (empty, or headings only)", file=sys.stderr)
    nothing = chunks == 0 and unchanged == 0 and rescoped == 0  # new scopes on unchanged files are a write too
    if nothing:
        print("warning: nothing was written to the index: no file under these paths gave any text", file=sys.stderr)
    elif not recreate and not on_azure:
        print(
            "these documents join what the index already holds (the bundled sample corpus, unless an earlier "
            "--recreate removed it), so answers may quote either; `pipeline index --recreate PATH...` keeps only yours",
            file=sys.stderr,
        )
    return nothing
