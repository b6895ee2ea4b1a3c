"""Record the replay corpus (tests/replay_corpus/*.json) from real runs on the embedded host.

Each scenario runs `pipeline ask` in a fresh process and data folder, with `PIPELINE_FAULTS` shaping what
goes wrong, then `pipeline export` saves the instance's status JSON with its full history. The script checks
that each recording has the shape its scenario promises (a retry timer, the Failed event, ...) before it
writes anything, so a corpus that no longer shows what the tests rely on is never committed by accident.

Run: ``.venv/bin/python scripts/record_replay_corpus.py`` (about half a minute); commit the changed files.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "replay_corpus"
QUESTION = "How does the pipeline retry a failed step?"


def _kinds(status: dict[str, Any]) -> list[str]:
    return [e["EventType"] for e in status["historyEvents"]]


def _published(status: dict[str, Any]) -> list[str]:
    return [e["Name"] for e in status["historyEvents"] if e["EventType"] == "TaskScheduled"]


def _clean(status: dict[str, Any]) -> bool:
    return status["runtimeStatus"] == "Completed" and "TaskFailed" not in _kinds(status)


def _retried(status: dict[str, Any]) -> bool:
    kinds = _kinds(status)
    return status["runtimeStatus"] == "Completed" and "TimerFired" in kinds and "TaskFailed" in kinds


def _permanent(status: dict[str, Any]) -> bool:
    # the search step fails for good, and the Failed event is still published before the run fails
    return (
        status["runtimeStatus"] == "Failed"
        and "TimerCreated" not in _kinds(status)
        and _published(status)[-1] == "publish_result"
        and "search_documents" in _published(status)
    )


def _publish_failed(status: dict[str, Any]) -> bool:
    failed = [e for e in status["historyEvents"] if e["EventType"] == "TaskFailed"]
    return status["runtimeStatus"] == "Failed" and bool(failed) and _published(status)[-1] == "publish_result"


def _retry_seed() -> int:
    """A fault seed whose first draw fails the answer step and whose second lets it through."""
    for seed in range(1000):
        draws = random.Random(seed)
        if draws.random() < 0.5 <= draws.random():
            return seed
    raise RuntimeError("no seed found")


SCENARIOS: dict[str, tuple[dict[str, str], Callable[[dict[str, Any]], bool]]] = {
    "clean": ({}, _clean),
    "retry": ({"PIPELINE_FAULTS": "generation=transient:0.5", "PIPELINE_FAULTS_SEED": str(_retry_seed())}, _retried),
    "permanent-failure": ({"PIPELINE_FAULTS": "retrieval=permanent:1"}, _permanent),
    "publish-failed": ({"PIPELINE_FAULTS": "events=permanent:1"}, _publish_failed),
}


def record(name: str, env: dict[str, str], check: Callable[[dict[str, Any]], bool], work: Path) -> dict[str, Any]:
    data, out = work / name / "data", work / name / "export"
    run_env = {
        **os.environ,
        "PIPELINE_DATA_DIR": str(data),
        "PIPELINE_LOCAL_EMBEDDER": "hash",  # small results keep the corpus readable; replay needs no model
        "PIPELINE_RETRY_FIRST_INTERVAL_MS": "200",
        "PIPELINE_EVENT_WEBHOOKS": "",
        **env,
    }
    run_env.pop("PIPELINE_EXPORT_URL", None)
    cli = [sys.executable, "-m", "cli.main"]
    subprocess.run([*cli, "ask", QUESTION, "--json"], cwd=ROOT, env=run_env, capture_output=True, timeout=120)
    subprocess.run([*cli, "export", str(out)], cwd=ROOT, env=run_env, check=True, capture_output=True, timeout=60)
    files = list(out.glob("*.json"))
    if len(files) != 1:
        raise SystemExit(f"{name}: expected one exported history, found {len(files)}")
    status = json.loads(files[0].read_text())
    if not check(status):
        raise SystemExit(
            f"{name}: the run did not have the expected shape: {status['runtimeStatus']}, {_kinds(status)}"
        )
    return status


def main() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        recorded = {name: record(name, env, check, Path(tmp)) for name, (env, check) in SCENARIOS.items()}
    for name, status in recorded.items():
        (CORPUS / f"{name}.json").write_text(json.dumps(status, indent=1) + "\n", encoding="utf-8")
        print(f"{name}: {status['runtimeStatus']}, {len(status['historyEvents'])} events")


if __name__ == "__main__":
    main()
