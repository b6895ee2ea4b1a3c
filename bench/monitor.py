"""Benchmark: the monitor against 10,000 runs — the list's first page, a deep page, the chart's hour, the assets.

Fills a fresh state file with N finished runs shaped like this app's (input, custom status, a result with
citations and per-step timings), starts the embedded host on it (bench/engine_app: the list does not run the
app) with the monitor page, and times what the page asks for. With chromium installed it also times the page
itself, from navigation to the first page of runs on screen. Usage: python bench/monitor.py [N]
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embedded_host import EmbeddedHost
from embedded_host.durable.store import connect
from monitor import PAGE_DIR, PAGE_PREFIX

APP = Path(__file__).parent / "engine_app"
LIST = "/runtime/webhooks/durabletask/instances"
STEPS = ("embed_query", "search_documents", "generate_answer", "publish_result")


def fill(db: Path, count: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    conn = connect(db)
    rows = []
    for i in range(count):
        created = now - timedelta(seconds=rng.uniform(0, 7200))
        status = rng.choices(["Completed", "Failed", "Terminated"], [90, 8, 2])[0]
        question = f"Question {i}: how does the pipeline retry a failed step?"
        output = {
            "instance_id": f"run-{i:05d}",
            "question": question,
            "answer": "It waits on a durable timer. [1]",
            "citations": [
                {
                    "id": "c1",
                    "title": "Retries",
                    "source": "corpus/retries.md",
                    "score": 0.8,
                    "quote": "Each attempt is an activity call; a durable timer waits out the backoff.",
                }
            ],
            "models": {"embed_query": "minilm"},
            "timings_ms": {s: round(rng.lognormvariate(3, 0.8), 2) for s in STEPS},
        }
        rows.append(
            (
                f"run-{i:05d}",
                "pipeline_orchestrator",
                status,
                json.dumps({"question": {"question": question, "top_k": 3}, "source": "http"}),
                json.dumps(output) if status == "Completed" else json.dumps("step generate_answer failed"),
                json.dumps({"step": "publish_result", "done": True}),
                created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                (created + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                f"exec-{i}",
            )
        )
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO instances (instance_id, name, runtime_status, input, output, custom_status, created_time,"
        " last_updated_time, execution_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    conn.close()


async def timed(
    http: aiohttp.ClientSession, path: str, headers: dict[str, str] | None = None, repeat: int = 20
) -> tuple[float, float, aiohttp.ClientResponse, list]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        resp = await http.get(path, headers=headers or {})
        body = await resp.json()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), resp, body


def browser_first_page(url: str) -> float | None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            page.goto(url)
            page.locator("#runs tbody tr").first.wait_for()
            samples.append((time.perf_counter() - started) * 1000)
        browser.close()
    return statistics.median(samples)


async def main(count: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    started = time.perf_counter()
    fill(data / "durable.sqlite", count)
    print(f"filled {count} runs in {time.perf_counter() - started:.1f} s")
    async with (
        EmbeddedHost(APP, data, consume_queues=False, pages={PAGE_PREFIX: PAGE_DIR}) as host,
        aiohttp.ClientSession(host.base_url) as http,
    ):
        first = await timed(http, f"{LIST}?top=25&showInput=false")
        print(f"first page (top=25): median {first[0]:.1f} ms, max {first[1]:.1f} ms")
        token = first[2].headers["x-ms-continuation-token"]
        deep_token = token
        for _ in range(200):  # walk 200 pages in, then time the next
            resp = await http.get(f"{LIST}?top=25&showInput=false", headers={"x-ms-continuation-token": deep_token})
            deep_token = resp.headers["x-ms-continuation-token"]
        deep = await timed(http, f"{LIST}?top=25&showInput=false", {"x-ms-continuation-token": deep_token})
        print(f"page 202 (top=25): median {deep[0]:.1f} ms")
        failed = await timed(http, f"{LIST}?top=25&showInput=false&runtimeStatus=Failed")
        print(f"first page of Failed: median {failed[0]:.1f} ms")
        hour_from = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        t0 = time.perf_counter()
        runs = 0
        tok = ""
        while True:
            resp = await http.get(
                f"{LIST}?top=1000&showInput=false&createdTimeFrom={hour_from}",
                headers={"x-ms-continuation-token": tok} if tok else {},
            )
            runs += len(await resp.json())
            tok = resp.headers["x-ms-continuation-token"]
            if not tok:
                break
        hour_ms = (time.perf_counter() - t0) * 1000
        print(f"chart's last hour: {runs} runs in {hour_ms:.0f} ms")
        assets = sum(f.stat().st_size for f in PAGE_DIR.iterdir())
        print(f"page assets: {assets / 1024:.1f} KB in {len(list(PAGE_DIR.iterdir()))} files")
        page_ms = await asyncio.to_thread(browser_first_page, f"{host.base_url}/monitor/")
        if page_ms is not None:
            print(f"browser: navigation to the first page of runs on screen: median {page_ms:.0f} ms (5 loads)")
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
