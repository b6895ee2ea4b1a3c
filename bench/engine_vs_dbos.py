"""The embedded host's engine against DBOS, the same no-op pipeline over HTTP, state on tmpfs, in one run.

Both sides run the same shape: an HTTP start route (aiohttp server on 127.0.0.1) that starts a durable run of
four no-op steps in sequence; a client in the same process POSTs N starts, `--in-flight` at a time, and waits
for each run in-process (`wait_for_completion` / `handle.get_result()`), so the figure is start route +
durable engine + its SQLite state, no polling. Ours is `bench/noop_app` on the embedded host (WAL,
synchronous=NORMAL: kill -9 loses nothing); DBOS keeps its system database in SQLite. Both state folders are
on /dev/shm. Each side runs in its own process, alternating, `--rounds` times; the ratio is of the medians.

DBOS is not a dependency of this project: give the interpreter of a venv that has it,

    python3 -m venv /tmp/dbos-venv && /tmp/dbos-venv/bin/pip install dbos==3.4.0 aiohttp
    .venv/bin/python bench/engine_vs_dbos.py --dbos-python /tmp/dbos-venv/bin/python
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
from typing import Any

from pipeline import cpu_seconds, percentile  # bench/ is this script's folder: the same measures as there

ROOT = Path(__file__).resolve().parent.parent
TMPFS = Path("/dev/shm")
STEPS = ("embed_query", "search_documents", "generate_answer", "publish_result")


async def _drive(base_url: str, runs: int, in_flight: int, wait: Any) -> dict[str, float]:
    """POST `runs` starts, `in_flight` at a time; `wait(instance_id)` until each run completes."""
    import aiohttp

    latencies: list[float] = []
    gate = asyncio.Semaphore(in_flight)
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(base_url, connector=connector) as http:

        async def one(i: int) -> None:
            async with gate:
                began = time.perf_counter()
                async with http.post("/api/pipeline/start", json={"question": f"q{i}"}) as response:
                    assert response.status == 202, await response.text()
                    started = await response.json()
                await wait(started["instance_id"])
                latencies.append(time.perf_counter() - began)

        await one(-1)  # warm: first run, connections, caches
        latencies.clear()
        cpu, began = cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(runs)))
        elapsed, cpu = time.perf_counter() - began, cpu_seconds() - cpu
    return {
        "per_s": runs / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "cpu_ms": cpu / runs * 1000,
    }


async def _engine(runs: int, in_flight: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from embedded_host import EmbeddedHost

    with tempfile.TemporaryDirectory(dir=TMPFS) as data:
        async with EmbeddedHost(ROOT / "bench" / "noop_app", Path(data), consume_queues=False) as host:

            async def wait(instance_id: str) -> None:
                status = await host.wait_for_completion(instance_id, timeout=300)
                assert status and status["runtimeStatus"] == "Completed", status

            return await _drive(host.base_url, runs, in_flight, wait)


async def _dbos(runs: int, in_flight: int) -> dict[str, float]:
    from aiohttp import web
    from dbos import DBOS

    with tempfile.TemporaryDirectory(dir=TMPFS) as data:
        DBOS(config={"name": "noop", "system_database_url": f"sqlite:///{data}/dbos.sqlite", "run_admin_server": False})

        @DBOS.step()
        async def noop(step: str, value: Any) -> Any:
            return value

        @DBOS.workflow()
        async def four_steps(value: Any) -> Any:
            for step in STEPS:
                value = await noop(step, value)
            return value

        handles: dict[str, Any] = {}

        async def start(request: web.Request) -> web.Response:
            handle = await DBOS.start_workflow_async(four_steps, await request.json())
            handles[handle.workflow_id] = handle
            return web.json_response({"instance_id": handle.workflow_id}, status=202)

        async def wait(instance_id: str) -> None:
            await handles.pop(instance_id).get_result()

        DBOS.launch()
        app = web.Application()
        app.router.add_post("/api/pipeline/start", start)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            return await _drive(f"http://127.0.0.1:{port}", runs, in_flight, wait)
        finally:
            await runner.cleanup()
            DBOS.destroy()


def _child(side: str, runs: int, in_flight: int) -> None:
    result = asyncio.run(_engine(runs, in_flight) if side == "engine" else _dbos(runs, in_flight))
    print(json.dumps(result))


def _run(python: str, side: str, runs: int, in_flight: int) -> dict[str, float]:
    done = subprocess.run(
        [python, __file__, "--child", side, "--runs", str(runs), "--in-flight", str(in_flight)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dbos-python", help="an interpreter whose environment has dbos and aiohttp")
    parser.add_argument("--runs", type=int, default=600)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=("engine", "dbos"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.runs, args.in_flight)
        return
    if not args.dbos_python:
        parser.error("--dbos-python is required (see the module docstring)")
    rates: dict[str, list[float]] = {"engine": [], "dbos": []}
    for round_ in range(1, args.rounds + 1):
        for side, python in (("engine", sys.executable), ("dbos", args.dbos_python)):
            r = _run(python, side, args.runs, args.in_flight)
            rates[side].append(r["per_s"])
            print(
                f"round {round_} {side:6s}: {r['per_s']:5.0f} runs/s, p50 {r['p50_ms']:5.0f} ms, "
                f"p99 {r['p99_ms']:5.0f} ms, CPU {r['cpu_ms']:.1f} ms per run",
                flush=True,
            )
    engine, dbos = statistics.median(rates["engine"]), statistics.median(rates["dbos"])
    print(f"median: engine {engine:.0f} runs/s, DBOS {dbos:.0f} runs/s, engine / DBOS {engine / dbos:.2f}")


if __name__ == "__main__":
    main()
