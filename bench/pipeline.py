"""The real app on the embedded host with the embedded default providers: what a user gets.

Measures (1) `pipeline ask` cold, as a new process each time; (2) throughput and latency of the
whole pipeline through HTTP with N questions in flight; (3) orchestration history size per run.

    .venv/bin/python bench/pipeline.py [--questions 500] [--in-flight 50] [--cold-runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "How does the pipeline retry a failed step?",
    "What happens to an invalid queue message?",
    "How do subscribers deduplicate events?",
    "What is stored in the task hub?",
    "How is the trace carried from the producer to the event?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cold_ask(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as data:
            env = {**os.environ, "PIPELINE_DATA_DIR": data}
            began = time.perf_counter()
            subprocess.run(
                [str(ROOT / ".venv/bin/pipeline"), "ask", QUESTIONS[0], "--json"],
                env=env,
                check=True,
                capture_output=True,
                cwd=ROOT,
            )
            times.append(time.perf_counter() - began)
    return times


async def throughput(questions: int, in_flight: int) -> dict[str, float]:
    from cli.environment import prepare_binding_settings
    from embedded_host import EmbeddedHost

    with tempfile.TemporaryDirectory() as data:
        os.environ["PIPELINE_DATA_DIR"] = data
        prepare_binding_settings()
        async with EmbeddedHost(ROOT, Path(data), consume_queues=False) as host:
            # aiohttp as the client: httpx's pool scan per request cost a fifth of this process's CPU,
            # which would be charged to the host it measures.
            connector = aiohttp.TCPConnector(limit=in_flight)
            async with aiohttp.ClientSession(host.base_url, connector=connector) as http:
                async with http.post("/api/pipeline/start", json={"question": QUESTIONS[0]}) as response:
                    warm = await response.json()
                await host.wait_for_completion(warm["instance_id"], timeout=30)
                history = host.get_status(warm["instance_id"], show_history=True)
                gate = asyncio.Semaphore(in_flight)
                latencies: list[float] = []

                async def one(i: int) -> None:
                    async with gate:
                        began = time.perf_counter()
                        body = {"question": QUESTIONS[i % len(QUESTIONS)], "top_k": 5}
                        async with http.post("/api/pipeline/start", json=body) as response:
                            started = await response.json()
                        status = await host.wait_for_completion(started["instance_id"], timeout=120)
                        assert status and status["runtimeStatus"] == "Completed", status
                        latencies.append(time.perf_counter() - began)

                began = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(questions)))
                elapsed = time.perf_counter() - began
        history_bytes = len(json.dumps(history["historyEvents"]).encode()) if history else 0
    return {
        "per_s": questions / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "history_bytes": history_bytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()

    cold = cold_ask(args.cold_runs)
    print(
        f"pipeline ask, cold (new process, new data dir, index built): "
        f"median {statistics.median(cold):.2f} s, max {max(cold):.2f} s over {len(cold)} runs"
    )
    result = asyncio.run(throughput(args.questions, args.in_flight))
    print(
        f"{args.questions} questions via HTTP, {args.in_flight} in flight: {result['per_s']:.0f} pipelines/s, "
        f"latency p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms"
    )
    print(f"history of one run (384-dim local vectors, top_k=3): {result['history_bytes']} bytes")


if __name__ == "__main__":
    main()
