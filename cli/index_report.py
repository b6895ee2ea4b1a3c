"""What `pipeline index` did not do, and why: files it left out, files with no text, an empty run.

Kept apart from the command so the summary it prints stays one place to read; this module only adds
the explanations a first-time user needs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["empty_sources", "explain_index", "left_out"]


def left_out(paths: Sequence[str]) -> dict[str, str]:
    """Files under the named folders that the walk did not take, with the reason."""
    from ingestion.chunking import kind_for
    from ingestion.sources import walk_files

    taken = {p.resolve() for p in walk_files(paths)}
    reasons: dict[str, str] = {}
    for entry in paths:
        folder = Path(entry).expanduser().resolve()
        if not folder.is_dir():
            continue  # a file named on the command line is always read
        for child in sorted(folder.rglob("*")):
            if not child.is_file() or child.resolve() in taken:
                continue
            relative = child.relative_to(folder).parts
            hidden = next((part for part in relative if part.startswith(".")), None)
            if hidden is not None:
                continue  # dot-files and dot-folders (.git, .pipeline) are never documents
            if kind_for(child) is None:
                suffix = child.suffix or "(no extension)"
                reasons[str(child)] = f"file type {suffix} is not read from a folder (name the file to read it as text)"
            else:
                reasons[str(child)] = f"inside {'/'.join(relative[:-1])}/, a folder the walk skips"
    return reasons


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
    on_azure: bool,
) -> bool:
    """Print what was left out and why, and what the index now holds; True when nothing usable was written."""
    for source, why in left_out(paths).items():
        print(f"skipped {source}: {why}", file=sys.stderr)
    for source in empty:
        print(f"skipped {source}: no text to index (empty, or headings only)", file=sys.stderr)
    nothing = chunks == 0 and unchanged == 0
    if nothing:
        print("warning: nothing was written to the index: no file under these paths gave any text", file=sys.stderr)
    elif not recreate and not on_azure:
        print(
            "these documents join what the index already holds (the bundled sample corpus, unless an earlier "
            "--recreate removed it), so answers may quote either; `pipeline index --recreate PATH...` keeps only yours",
            file=sys.stderr,
        )
    return nothing
