"""Engine benchmark: per-step overhead, sequential steps/s, pipelines/s with 50 in flight.

Run: ``.venv/bin/python bench/engine.py`` (writes nothing; paste the output into bench/RESULTS-engine.md).
The app (bench/engine_app) runs four no-op activities in sequence, so everything measured is host + SDK.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embedded_host import EmbeddedHost  # noqa: E402

APP = Path(__file__).parent / "engine_app"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed_run(host: EmbeddedHost, name: str, arg: object) -> float:
    """Seconds from starting `name` to its completion (asserted), as a client of the host sees it."""
    start = time.perf_counter()
    iid = await host.start_new(name, arg)
    status = await host.wait_for_completion(iid, 60)
    assert status and status["runtimeStatus"] == "Completed", status
    return time.perf_counter() - start


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with EmbeddedHost(APP, Path(tmp)) as host:
            for _ in range(20):  # warm up imports and caches
                await timed_run(host, "four_steps", 0)
            # 1. latency of one 4-step pipeline, sequentially; 5 episodes (start + 4 completions) per run
            runs = [await timed_run(host, "four_steps", 0) for _ in range(300)]
            per_step = [r / 4 for r in runs]
            print(
                f"one 4-step run (sequential): p50 {statistics.median(runs) * 1e3:.2f} ms,"
                f" p99 {_pct(runs, 0.99) * 1e3:.2f} ms"
            )
            print(
                f"engine overhead per step: p50 {statistics.median(per_step) * 1e3:.3f} ms,"
                f" p99 {_pct(per_step, 0.99) * 1e3:.3f} ms"
            )
            # 2. sequential steps/s in one long instance
            steps = 200
            elapsed = await timed_run(host, "many_steps", steps)
            print(
                f"one instance, {steps} sequential steps: {steps / elapsed:.0f} steps/s"
                f" ({elapsed / steps * 1e3:.2f} ms/step, history grows to {steps * 4} events)"
            )
            # 3. throughput: 50 pipelines in flight
            total, in_flight = 1000, 50
            sem = asyncio.Semaphore(in_flight)
            latencies: list[float] = []

            async def worker() -> None:
                async with sem:
                    latencies.append(await timed_run(host, "four_steps", 0))

            episodes0, commits0 = host.engine.episodes, host.engine.commits  # type: ignore[union-attr]
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(total)))
            wall = time.perf_counter() - start
            episodes = host.engine.episodes - episodes0  # type: ignore[union-attr]
            commits = host.engine.commits - commits0  # type: ignore[union-attr]
            print(
                f"{total} pipelines, {in_flight} in flight: {total / wall:.0f} pipelines/s,"
                f" latency p50 {statistics.median(latencies) * 1e3:.1f} ms p99 {_pct(latencies, 0.99) * 1e3:.1f} ms,"
                f" {episodes / commits:.1f} episodes per commit"
            )


if __name__ == "__main__":
    asyncio.run(main())
