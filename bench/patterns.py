"""Patterns benchmark: fan-out of 1,000 activities, and what a sub-orchestration adds over an activity call.

Run: ``taskset -c 0,1 .venv/bin/python bench/patterns.py`` (2 cores); results go in bench/RESULTS-patterns.md.
The app (bench/patterns_app) uses no-op activities, so the numbers are host + SDK replay + SQLite; instances
are started in-process and awaited with ``wait_for_completion`` (no HTTP).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import timed_run  # noqa: E402  (bench/engine.py, beside this file)

from embedded_host import EmbeddedHost  # noqa: E402

APP = Path(__file__).parent / "patterns_app"


async def _median_ms(host: EmbeddedHost, name: str, runs: int) -> tuple[float, float]:
    samples = sorted([await timed_run(host, name, 1) for _ in range(runs)])
    return statistics.median(samples) * 1e3, samples[int(0.9 * len(samples))] * 1e3


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with EmbeddedHost(APP, Path(tmp)) as host:
            for _ in range(20):  # warm up imports and caches
                await timed_run(host, "one_sub_orchestration", 1)
                await timed_run(host, "one_activity", 1)
            # 1. fan-out/fan-in of 1,000 activities (one instance), five runs
            for name, kind in (("fan_out", "async"), ("fan_out_sync", "sync, thread pool")):
                fan = [await timed_run(host, name, 1000) for _ in range(5)]
                print(
                    f"fan-out/fan-in of 1,000 activities ({kind}): median {statistics.median(fan):.3f} s,"
                    f" max {max(fan):.3f} s (runs: {', '.join(f'{t:.3f}' for t in fan)})"
                )
            # 2. a call's latency, sequential runs, interleaved so drift hits all three alike
            runs = 300
            activity, activity_p90 = await _median_ms(host, "one_activity", runs)
            sub, sub_p90 = await _median_ms(host, "one_sub_orchestration", runs)
            nested, nested_p90 = await _median_ms(host, "sub_orchestration_with_activity", runs)
            print(f"parent -> activity:                  p50 {activity:.2f} ms, p90 {activity_p90:.2f} ms")
            print(
                f"parent -> sub-orchestration:         p50 {sub:.2f} ms, p90 {sub_p90:.2f} ms"
                f"  (adds {sub - activity:+.2f} ms over the activity call)"
            )
            print(
                f"parent -> sub-orchestration -> activity: p50 {nested:.2f} ms, p90 {nested_p90:.2f} ms"
                f"  (the sub-orchestration layer adds {nested - activity:+.2f} ms)"
            )
            print(f"episodes {host.engine.episodes}, commits {host.engine.commits}")


if __name__ == "__main__":
    asyncio.run(main())
