"""A power cut under `pipeline serve`: what is on the disk afterwards, per `PIPELINE_DURABILITY`.

The host runs with `powercut/sync_shadow.c` preloaded: every fsync/fdatasync of a file in its state folder
copies that file, as it is then, to a shadow folder, so the shadow always holds what a disk keeps when the
power goes and every unsynced write is lost. The host is started on the Durable API's sample app, takes
starts, runs steps, and is killed (-9) at once after the last answer it gave; the shadow is then opened
as the next boot would find it. Whatever was acknowledged (a 202 for a start) or seen finished must be there.
Shared by `tests/chaos/test_power_cut.py` and `bench/durability.py`.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from tests.processes import ROOT, Server

__all__ = ["SHIM_SOURCE", "build_shim", "run_power_cut"]

SHIM_SOURCE = Path(__file__).parent / "powercut" / "sync_shadow.c"
BASIC_APP = ROOT / "tests" / "embedded_host" / "apps" / "basic"
_API = "/runtime/webhooks/durabletask"


def build_shim(workdir: Path) -> Path | None:
    """Compile the shim (None when there is no C compiler here)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    shim = workdir / "sync_shadow.so"
    command = [compiler, "-shared", "-fPIC", "-O2", "-o", str(shim), str(SHIM_SOURCE), "-ldl", "-lpthread"]
    return shim if subprocess.run(command, capture_output=True, check=False).returncode == 0 else None


def run_power_cut(workdir: Path, shim: Path, *, durability: str, starts: int = 20, steps: int = 3) -> dict[str, Any]:
    """Start `starts` runs of `steps` steps, cut the power, and count what the disk lost of what was answered."""
    data, shadow = (workdir / durability / "data").resolve(), (workdir / durability / "shadow").resolve()
    data.mkdir(parents=True)
    shadow.mkdir(parents=True)
    (workdir / "markers").mkdir(exist_ok=True)
    env = {
        "LD_PRELOAD": str(shim),
        "SYNC_WATCH_DIR": str(data),
        "SYNC_SHADOW_DIR": str(shadow),
        "PIPELINE_DURABILITY": durability,
        "TEST_MARKER_DIR": str(workdir / "markers"),
        "TEST_QUEUE": "power-cut",
    }
    server = Server(data, env, app=BASIC_APP, ready_path=f"{_API}/instances").start()
    acknowledged: list[str] = []
    finished: set[str] = set()
    began = time.monotonic()
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            for _ in range(starts):
                response = http.post(f"{_API}/orchestrators/sequence", json={"steps": steps})
                if response.status_code == 202:
                    acknowledged.append(response.json()["id"])
            deadline = time.monotonic() + 20
            while len(finished) < len(acknowledged) // 2 and time.monotonic() < deadline:
                for instance_id in acknowledged:
                    status = http.get(f"{_API}/instances/{instance_id}").json()
                    if status["runtimeStatus"] == "Completed":
                        finished.add(instance_id)
            seconds = time.monotonic() - began
    finally:
        server.kill()  # the power goes: no checkpoint, no close, nothing unsynced reaches the disk
    present, completed, intact = _on_disk(shadow, workdir / durability / "after")
    return {
        "durability": durability,
        "acknowledged_starts": len(acknowledged),
        "seen_completed": len(finished),
        "lost_starts": len(set(acknowledged) - present),
        "lost_completions": len(finished - completed),
        "state_file_intact": intact,
        "seconds_to_start_and_see_half_finish": round(seconds, 2),
        "shadowed_files": sorted(p.name for p in shadow.rglob("*") if p.is_file()),
    }


def _on_disk(shadow: Path, after: Path) -> tuple[set[str], set[str], bool]:
    """The instances, the completed ones, and whether the state file the next boot finds is intact."""
    shutil.copytree(shadow, after)
    state = after / "durable.sqlite"
    if not state.exists():
        return set(), set(), True  # nothing was ever synced: an empty start, not a damaged one
    with closing(sqlite3.connect(state)) as db:  # SQLite recovers the WAL as the next boot would
        intact = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT instance_id, runtime_status FROM instances").fetchall()
    return {row[0] for row in rows}, {row[0] for row in rows if row[1] == "Completed"}, intact
