"""The long soak: many runs through `pipeline serve` with 10 % of provider calls failing; memory, file
descriptors and state size are sampled after every wave. Prints one JSON line per wave and a summary.

Run: `.venv/bin/python bench/soak.py [--runs 20000] [--wave 1000] [--retention-days 0.0003]`
(results: bench/RESULTS-soak.md). Questions go in through the local queue (`pipeline enqueue`'s path), a wave
at a time; a wave is done when its Completed events are in events.jsonl. Every provider role (embeddings,
retrieval, generation, events) fails 10 % of its calls with a transient error, so a run retries now and then
(up to 10 attempts per step). `--retention-days` sets PIPELINE_RETENTION_DAYS (0: off).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contracts import COMPLETED_EVENT_TYPE  # noqa: E402
from tests.chaos.scenarios import FAST_RETRIES, QUESTIONS, Host, rss_kb  # noqa: E402

FAULTS = "embeddings=transient:0.1,retrieval=transient:0.1,generation=transient:0.1,events=transient:0.1"


class EventTail:
    """Reads events.jsonl incrementally: which runs have a Completed event, under how many event ids."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.completed: dict[str, set[str]] = collections.defaultdict(set)

    def read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        whole = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(whole)
        for line in whole.splitlines():
            event = json.loads(line)
            if event["type"] == COMPLETED_EVENT_TYPE:
                self.completed[event["subject"].removeprefix("pipeline/")].add(event["id"])


def _size_mb(folder: Path, pattern: str) -> float:
    return round(sum(p.stat().st_size for p in folder.glob(pattern)) / 2**20, 2)


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--wave", type=int, default=1000)
    parser.add_argument("--retention-days", type=float, default=0.0003)  # ~26 s: several purges per wave
    parser.add_argument("--timeout-s", type=float, default=7200)
    args = parser.parse_args()
    env = {
        **FAST_RETRIES,
        "PIPELINE_FAULTS": FAULTS,
        "PIPELINE_FAULTS_SEED": "7",
        "PIPELINE_RETRY_MAX_ATTEMPTS": "10",
    }
    if args.retention_days > 0:
        env["PIPELINE_RETENTION_DAYS"] = str(args.retention_days)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        host = Host(Path(tmp) / "data", env).start()
        assert host.server.proc is not None
        pid = host.server.proc.pid
        tail = EventTail(host.data_dir / "events.jsonl")
        samples: list[dict[str, Any]] = []
        began = time.monotonic()
        deadline = began + args.timeout_s
        sent = 0
        try:
            while sent < args.runs and time.monotonic() < deadline:
                wave = [f"soak-{i}" for i in range(sent, min(args.runs, sent + args.wave))]
                with host.queue() as queue:
                    for i, message_id in enumerate(wave, start=sent):
                        queue.send(json.dumps({"question": QUESTIONS[i % len(QUESTIONS)]}), message_id=message_id)
                sent += len(wave)
                while time.monotonic() < deadline:
                    tail.read()
                    if all(i in tail.completed for i in wave):
                        break
                    time.sleep(0.5)
                sample = {
                    "runs": sent,
                    "seconds": round(time.monotonic() - began, 1),
                    "completed": len(tail.completed),
                    "rss_mb": round(rss_kb(pid) / 1024, 1),
                    "fds": _fds(pid),
                    "state_mb": _size_mb(host.data_dir, "durable.sqlite*"),
                    "outbox_mb": _size_mb(host.data_dir, "events.sqlite3*"),
                    "event_log_mb": _size_mb(host.data_dir, "events.jsonl"),
                    "instances_kept": _kept(host),
                }
                samples.append(sample)
                print(json.dumps(sample), flush=True)
        finally:
            host.stop()
    ids = [f"soak-{i}" for i in range(sent)]
    lost = sum(1 for i in ids if i not in tail.completed)
    duplicated = sum(1 for i in ids if len(tail.completed.get(i, ())) > 1)
    at_5000 = next((s for s in samples if s["runs"] >= 5000), samples[0])
    last = samples[-1]
    print(
        json.dumps(
            {
                "runs": sent,
                "lost": lost,
                "duplicated": duplicated,
                "server_errors": host.server_errors,
                "seconds": last["seconds"],
                "runs_per_s": round(sent / max(1e-9, last["seconds"]), 1),
                "rss_mb_at_5000_and_end": [at_5000["rss_mb"], last["rss_mb"]],
                "rss_growth_after_5000_pct": round(100 * (last["rss_mb"] / at_5000["rss_mb"] - 1), 1),
                "fds_at_5000_and_end": [at_5000["fds"], last["fds"]],
                "state_mb_max": max(s["state_mb"] for s in samples),
                "state_mb_end": last["state_mb"],
                "retention_days": args.retention_days or None,
            }
        )
    )


def _kept(host: Host) -> int:
    """Instances in the state file now (running and not yet purged), from the Durable API's list."""
    response = host.http.get(f"{host.base_url}/runtime/webhooks/durabletask/instances?top=1000")
    count = len(response.json()) if response.status_code == 200 else -1
    token = response.headers.get("x-ms-continuation-token")
    while token and count >= 0:
        response = host.http.get(
            f"{host.base_url}/runtime/webhooks/durabletask/instances?top=1000",
            headers={"x-ms-continuation-token": token},
        )
        count += len(response.json())
        token = response.headers.get("x-ms-continuation-token")
    return count


if __name__ == "__main__":
    main()
