"""The real app on the embedded host with the embedded default providers: what a user gets.

Measures (1) `pipeline ask` cold, as a new process each time; (2) throughput, latency and CPU per run of the
whole pipeline through HTTP with N questions in flight, every question distinct (taken from the evaluation
sets, so no answer or embedding cache can hide the cost), beside the no-op app of the same shape
(bench/noop_app: the same start route, four activities that return at once) on the same host in the same
run, for the ratio; (3) orchestration history size per run.

    .venv/bin/python bench/pipeline.py [--questions 300] [--in-flight 50] [--cold-runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = ["How does the pipeline retry a failed step?"]
NOOP_APP = Path(__file__).parent / "noop_app"


def distinct_questions(count: int) -> list[str]:
    """`count` different questions: the evaluation sets' own, then numbered variants of them if more are asked."""
    files = [ROOT / "evaluation/questions.jsonl", *sorted((ROOT / "evaluation/sets").glob("*/questions.jsonl"))]
    pool = list(
        dict.fromkeys(json.loads(line)["question"] for f in files for line in f.read_text().splitlines() if line)
    )
    return [pool[i % len(pool)] + (f" ({i // len(pool)})" if i >= len(pool) else "") for i in range(count)]


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


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds of each live Python thread so far, by native id (Linux: /proc/self/task/*/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seen: dict[int, tuple[str, float]] = {}
    for thread in threading.enumerate():
        try:
            fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # not Linux, or the thread just ended
            continue
        seen[thread.native_id or 0] = (thread.name, (int(fields[11]) + int(fields[12])) / ticks)
    return seen


def cpu_by_thread(before: dict[int, tuple[str, float]], runs: int) -> dict[str, float]:
    """CPU ms per run of each kind of thread since `before` (numbered pool threads counted as one kind)."""
    kinds: dict[str, float] = {}
    for native_id, (name, seconds) in thread_cpu().items():
        kind = name.rstrip("0123456789").rstrip("_-") or name
        spent = seconds - before.get(native_id, (name, 0.0))[1]
        kinds[kind] = kinds.get(kind, 0.0) + spent * 1000 / runs
    return dict(sorted(kinds.items(), key=lambda item: -item[1]))


async def throughput(app: Path, questions: list[str], in_flight: int) -> dict[str, float]:
    """Start every question over HTTP, `in_flight` at a time, and wait for each run to complete."""
    from cli.environment import prepare_binding_settings
    from embedded_host import EmbeddedHost

    with tempfile.TemporaryDirectory() as data:
        os.environ["PIPELINE_DATA_DIR"] = data
        prepare_binding_settings()
        if app == ROOT:
            from providers.factory import prepare_local_index_when_opened

            prepare_local_index_when_opened()  # as `pipeline serve` does
        async with EmbeddedHost(app, Path(data), consume_queues=False) as host:
            # aiohttp as the client: httpx's pool scan per request cost a fifth of this process's CPU,
            # which would be charged to the host it measures.
            connector = aiohttp.TCPConnector(limit=in_flight)
            async with aiohttp.ClientSession(host.base_url, connector=connector) as http:
                async with http.post("/api/pipeline/start", json={"question": QUESTIONS[0]}) as response:
                    warm = await response.json()
                await host.wait_for_completion(warm["instance_id"], timeout=60)
                history = host.get_status(warm["instance_id"], show_history=True)
                if app == ROOT:  # what `pipeline serve` starts with its first question; measured once it is done
                    from providers.factory import wait_for_background_preparation

                    await asyncio.to_thread(wait_for_background_preparation)
                gate = asyncio.Semaphore(in_flight)
                latencies: list[float] = []

                async def one(question: str) -> None:
                    async with gate:
                        began = time.perf_counter()
                        async with http.post("/api/pipeline/start", json={"question": question, "top_k": 5}) as r:
                            started = await r.json()
                        status = await host.wait_for_completion(started["instance_id"], timeout=300)
                        assert status and status["runtimeStatus"] == "Completed", status
                        latencies.append(time.perf_counter() - began)

                print(f"measuring {app.name} (pid {os.getpid()})", file=sys.stderr, flush=True)
                cpu, threads = cpu_seconds(), thread_cpu()
                began = time.perf_counter()
                await asyncio.gather(*(one(q) for q in questions))
                elapsed = time.perf_counter() - began
                cpu = cpu_seconds() - cpu
                by_thread = cpu_by_thread(threads, len(questions))  # before the host's threads end
        history_bytes = len(json.dumps(history["historyEvents"]).encode()) if history else 0
    return {
        "per_s": len(questions) / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "cpu_ms": cpu / len(questions) * 1000,
        "cpu_ms_by_thread": by_thread,
        "history_bytes": history_bytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()

    if args.cold_runs:
        cold = cold_ask(args.cold_runs)
        print(
            f"pipeline ask, cold (new process, new data dir, index built): "
            f"median {statistics.median(cold):.2f} s, max {max(cold):.2f} s over {len(cold)} runs"
        )
    questions = distinct_questions(args.questions)
    results = {}
    for name, app in (("real app", ROOT), ("no-op app", NOOP_APP)):
        result = results[name] = asyncio.run(throughput(app, questions, args.in_flight))
        print(
            f"{name}: {len(questions)} distinct questions via HTTP, {args.in_flight} in flight: "
            f"{result['per_s']:.0f} runs/s, latency p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms "
            f"(p99/p50 {result['p99_ms'] / result['p50_ms']:.1f}), CPU {result['cpu_ms']:.1f} ms per run"
        )
        threads = ", ".join(f"{kind} {ms:.1f}" for kind, ms in result["cpu_ms_by_thread"].items() if ms >= 0.05)
        print(f"  CPU ms per run by thread: {threads}")
    print(f"real / no-op throughput: {results['real app']['per_s'] / results['no-op app']['per_s']:.2f}")
    print(f"history of one run (384-dim local vectors, top_k=3): {results['real app']['history_bytes']} bytes")


if __name__ == "__main__":
    main()
