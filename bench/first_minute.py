"""The first minute of a `pipeline serve` on a new state folder: its first questions, one after another.

Whatever a new serve still has to do for the bundled sample index shows here (it once prepared the answerer's
sentences in the background from its first question on, sharing the model's passes with the questions; they
now ship beside the index). This asks distinct questions one after another from the moment the serve
listens, and reports each run's latency (start route to Completed, through HTTP) and its embed step.

    .venv/bin/python bench/first_minute.py [--questions 40] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from pipeline import distinct_questions, percentile  # noqa: E402 - bench/pipeline.py, on the path just set

from tests.processes import Server  # noqa: E402 - the repository root, on the path just set

_FINISHED = ("Completed", "Failed", "Terminated")


def _json(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def one_round(questions: list[str]) -> tuple[list[float], list[float], float]:
    """Latencies and embed-step times (ms) of `questions` asked in turn on a serve started on a new folder."""
    with tempfile.TemporaryDirectory() as folder:
        server = Server(Path(folder) / "state", {"PIPELINE_CONFIG": "/nonexistent"}).start(timeout=60)
        try:
            latencies, embeds = [], []
            began = time.perf_counter()
            for question in questions:
                started = time.perf_counter()
                instance = _json(server.base_url + "/api/pipeline/start", {"question": question})["instance_id"]
                # Polled every 5 ms, not at the test helper's 50: the runs measured take about that long.
                status_url = f"{server.base_url}/api/pipeline/{instance}"
                while (status := _json(status_url))["runtime_status"] not in _FINISHED:
                    time.sleep(0.005)
                latencies.append((time.perf_counter() - started) * 1000)
                embeds.append(status["result"]["timings_ms"]["embed_query"])
            return latencies, embeds, time.perf_counter() - began
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    questions = distinct_questions(args.questions)
    for _ in range(args.rounds):
        latencies, embeds, seconds = one_round(questions)
        print(
            f"{len(questions)} questions in {seconds:.1f} s: latency median {statistics.median(latencies):.0f} ms, "
            f"p90 {percentile(latencies, 0.9):.0f} ms, max {max(latencies):.0f} ms; embed step median "
            f"{statistics.median(embeds):.0f} ms, max {max(embeds):.0f} ms; the first ten: "
            + ", ".join(f"{ms:.0f}" for ms in latencies[:10])
        )


if __name__ == "__main__":
    main()
