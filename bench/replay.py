"""Replay benchmark: `pipeline replay` over 10,000 recorded pipeline histories (target: < 30 s on 2 cores).

The histories are the committed corpus (a clean run, a retry with its timer, a permanent failure, a failed
publish) copied 2,500 times each, every copy with its own instance id and every timestamp moved by its own
offset, so no copy replays from another's cached timestamp parses. They go into JSON lines files, and the
real CLI checks them: once in one process, then split across two processes running side by side (what a CI
job on a 2-core runner does). Times are wall clock and include starting Python and importing the app.

Run: ``.venv/bin/python bench/replay.py [COUNT]`` (writes nothing outside a temporary folder; paste the output
into bench/RESULTS-replay.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "replay_corpus"
_STAMP = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"')


def _shifted(text: str, offset: timedelta) -> str:
    """The document with every timestamp moved by ``offset`` (the same for all, so timers still line up)."""

    def move(match: re.Match[str]) -> str:
        moment = datetime.fromisoformat(match.group(1).replace("Z", "+00:00")) + offset
        return '"' + moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + '"'

    return _STAMP.sub(move, text)


def _write(folder: Path, count: int, parts: int) -> list[Path]:
    sources = [json.loads(p.read_text()) for p in sorted(CORPUS.glob("*.json"))]
    files = [folder / f"part-{i}.jsonl" for i in range(parts)]
    handles = [f.open("w", encoding="utf-8") for f in files]
    for n in range(count):
        doc: dict[str, Any] = dict(sources[n % len(sources)])
        doc["instanceId"] = f"bench-{n:05d}"
        handles[n % parts].write(_shifted(json.dumps(doc), timedelta(seconds=n, microseconds=n)) + "\n")
    for handle in handles:
        handle.close()
    return files


def _run(files: list[Path]) -> tuple[float, list[dict[str, int]]]:
    env = {**os.environ, "PIPELINE_DATA_DIR": str(files[0].parent / "state")}
    cli = [sys.executable, "-m", "cli.main", "replay", "--json"]
    began = time.perf_counter()
    procs = [subprocess.Popen([*cli, str(f)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for f in files]
    outputs = [p.communicate()[0] for p in procs]
    elapsed = time.perf_counter() - began
    summaries = [json.loads(out)["summary"] for out in outputs]
    for proc, summary in zip(procs, summaries, strict=True):
        assert proc.returncode == 0 and summary["clean"] > 0, summary
    return elapsed, summaries


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(f"cores available: {len(os.sched_getaffinity(0))}")
    with tempfile.TemporaryDirectory() as tmp:
        for parts in (1, 2):
            folder = Path(tmp) / f"x{parts}"
            folder.mkdir()
            files = _write(folder, count, parts)
            elapsed, summaries = _run(files)
            clean = sum(s["clean"] for s in summaries)
            print(
                f"{count} histories, {parts} process(es): {elapsed:.1f} s wall, {clean} clean, "
                f"{elapsed / count * 1e3:.2f} ms per history"
            )


if __name__ == "__main__":
    main()
