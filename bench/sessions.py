"""Extended sessions on the embedded host: CPU per run of an n-step sequence, with and without them.

Runs the test app's `sequence` orchestrator (n activities in a row, each returning at once) 20 times per
length, on a host whose host.json keeps sessions (the default) and on one with `extendedSessionsEnabled:
false` (every episode replays the history so far). Without sessions a run of n steps replays n(n+1)/2
events; with them each event is fed to the SDK once.

Run: ``.venv/bin/python bench/sessions.py`` (writes only to a temporary folder; results in
bench/RESULTS-engine.md#extended-sessions).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import cpu_seconds  # noqa: E402  (bench/ is this script's folder)

from embedded_host import EmbeddedHost  # noqa: E402
from tests.embedded_host.app_copies import app_with_sessions  # noqa: E402

BASIC_APP = ROOT / "tests" / "embedded_host" / "apps" / "basic"
RUNS = 20


async def _runs(app: Path, data: Path, steps: int) -> tuple[float, float]:
    """Start RUNS sequences of `steps` at once; (CPU ms per run, wall s for all)."""
    async with EmbeddedHost(app, data) as host:
        began, cpu = time.perf_counter(), cpu_seconds()
        ids = [await host.start_new("sequence", {"steps": steps}) for _ in range(RUNS)]
        for instance_id in ids:
            status = await host.wait_for_completion(instance_id, 300)
            assert status and status["runtimeStatus"] == "Completed", status
        return (cpu_seconds() - cpu) * 1000 / RUNS, time.perf_counter() - began


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["TEST_MARKER_DIR"] = str(root)
        os.environ.setdefault("TEST_QUEUE", "bench")
        print("| steps | with sessions: CPU per run | wall for 20 | replaying every episode: CPU per run | wall |")
        print("|---|---|---|---|---|")
        apps = {
            sessions: app_with_sessions(BASIC_APP, root / f"app-{sessions}", sessions) for sessions in (True, False)
        }
        for sessions, app in apps.items():  # warm-up: imports, the SDK's first parses
            asyncio.run(_runs(app, root / f"warm-{sessions}", 2))
        for steps in (4, 20, 100):
            kept = asyncio.run(_runs(apps[True], root / f"kept-{steps}", steps))
            replayed = asyncio.run(_runs(apps[False], root / f"replayed-{steps}", steps))
            print(f"| {steps} | {kept[0]:.1f} ms | {kept[1]:.2f} s | {replayed[0]:.1f} ms | {replayed[1]:.2f} s |")


if __name__ == "__main__":
    main()
