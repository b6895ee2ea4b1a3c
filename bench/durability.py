"""What PIPELINE_DURABILITY costs and what it buys; writes bench/RESULTS-durability.md's figures to stdout.

Run (root not needed; a C compiler is, for the power-cut shim):
    .venv/bin/python bench/durability.py [--runs 300] [--cut-starts 50]

1. Cost: the engine app's four-step pipeline (bench/engine_app, no-op activities: all host, SDK and SQLite),
   sequentially (each start and step its own commit, the worst case for fsync) and 50 in flight (commits
   batch many episodes), in each mode, on the disk under the temp folder.
2. What it buys: `tests/chaos/power_cut.py` in each mode: the host under a shim that keeps only synced
   writes, killed at once after its last answer; how many acknowledged starts and seen completions are lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embedded_host import EmbeddedHost  # noqa: E402
from tests.chaos.power_cut import build_shim, run_power_cut  # noqa: E402

APP = Path(__file__).parent / "engine_app"
MODES = ("process-crash", "power-loss")


async def _run_once(host: EmbeddedHost) -> float:
    began = time.perf_counter()
    instance_id = await host.start_new("four_steps", 0)
    status = await host.wait_for_completion(instance_id, 60)
    assert status and status["runtimeStatus"] == "Completed", status
    return time.perf_counter() - began


async def cost(mode: str, runs: int, where: Path) -> dict[str, float]:
    os.environ["PIPELINE_DURABILITY"] = mode
    async with EmbeddedHost(APP, where / mode) as host:
        for _ in range(10):
            await _run_once(host)
        sequential = [await _run_once(host) for _ in range(runs)]
        gate = asyncio.Semaphore(50)

        async def one() -> None:
            async with gate:
                await _run_once(host)

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(runs * 3)))
        wall = time.perf_counter() - began
    return {
        "sequential_run_p50_ms": round(statistics.median(sequential) * 1e3, 2),
        "sequential_runs_per_s": round(runs / sum(sequential), 1),
        "runs_per_s_50_in_flight": round(runs * 3 / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--cut-starts", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        where = Path(tmp)
        for mode in MODES:
            print(json.dumps({"mode": mode, **asyncio.run(cost(mode, args.runs, where))}), flush=True)
        shim = build_shim(where)
        if shim is None:
            print("no C compiler: the power-cut part is skipped")
            return
        for mode in MODES:
            figures = run_power_cut(where / "cut", shim, durability=mode, starts=args.cut_starts)
            figures.pop("shadowed_files")
            print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
