"""The committed corpus of recorded runs replays cleanly through today's `pipeline_orchestrator`.

The corpus (tests/replay_corpus, written by scripts/record_replay_corpus.py from real runs on the embedded
host) holds a clean run, a retried step with its timer, a permanent failure that published the Failed event,
and a run whose publish failed. A change to the orchestrator that would break instances like these in flight
fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedded_host.durable.checker import FIX_ADVICE, check_recording
from embedded_host.durable.recorded import read_recording
from orchestration.orchestrator import pipeline_orchestrator

CORPUS = Path(__file__).resolve().parents[1] / "replay_corpus"
HANDLE = pipeline_orchestrator._function._func
FILES = sorted(CORPUS.glob("*.json"))


def test_the_corpus_covers_every_recorded_scenario() -> None:
    assert {f.stem for f in FILES} == {"clean", "retry", "permanent-failure", "publish-failed"}
    kinds = {f.stem: [e["EventType"] for e in json.loads(f.read_text())["historyEvents"]] for f in FILES}
    assert "TimerCreated" in kinds["retry"] and "TimerFired" in kinds["retry"]
    assert kinds["permanent-failure"][-1] == "ExecutionCompleted"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_recorded_history_replays_cleanly(path: Path) -> None:
    report = check_recording(read_recording(json.loads(path.read_text())), HANDLE, source=path.name)
    assert report.ok, f"{report.line()}\n{FIX_ADVICE}"


def test_an_instance_in_flight_replays_cleanly_and_new_work_is_not_a_divergence() -> None:
    doc = json.loads((CORPUS / "retry.json").read_text())
    kinds = [e["EventType"] for e in doc["historyEvents"]]
    cut = kinds.index("TimerCreated") + 1  # exported while waiting out the retry timer
    doc["historyEvents"], doc["runtimeStatus"] = doc["historyEvents"][:cut], "Running"
    report = check_recording(read_recording(doc), HANDLE, source="in-flight")
    assert report.ok, report.line()

    def stops_after_embedding(context):  # type: ignore[no-untyped-def]
        yield context.call_activity("embed_query", {})

    from azure.durable_functions import Orchestrator

    report = check_recording(read_recording(doc), Orchestrator.create(stops_after_embedding), source="in-flight")
    assert report.outcome == "diverged" and report.scheduled == "completed instead"
