"""Histories in the shape Azure's Durable HTTP API returns them replay like the embedded host's.

Azure leaves `TaskScheduled` out of the status JSON and folds it into each completion (`FunctionName`,
`ScheduledTime`), without task ids. The reader puts the scheduling events back with ids in creation order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.durable_functions as df

from embedded_host.checker import check_recording
from embedded_host.recorded import read_recording
from orchestration.orchestrator import pipeline_orchestrator

CORPUS = Path(__file__).resolve().parents[1] / "replay_corpus"
HANDLE = pipeline_orchestrator._function._func


def _azure_shape(doc: dict[str, Any]) -> dict[str, Any]:
    scheduled = {e["EventId"]: e for e in doc["historyEvents"] if e["EventType"] == "TaskScheduled"}
    events = []
    for raw in doc["historyEvents"]:
        ev = {k: v for k, v in raw.items() if k not in ("EventId", "TaskScheduledId", "TimerId")}
        if raw["EventType"] == "TaskScheduled":
            continue
        if raw["EventType"] in ("TaskCompleted", "TaskFailed"):
            origin = scheduled[raw["TaskScheduledId"]]
            ev["FunctionName"], ev["ScheduledTime"] = origin["Name"], origin["Timestamp"]
        if raw["EventType"] == "ExecutionStarted":
            ev["FunctionName"] = ev.pop("Name")
        events.append(ev)
    return {**doc, "historyEvents": events}


def _load(name: str) -> dict[str, Any]:
    return _azure_shape(json.loads((CORPUS / f"{name}.json").read_text()))


def test_azure_shaped_histories_replay_cleanly() -> None:
    for name in ("clean", "retry", "permanent-failure", "publish-failed"):
        recording = read_recording(_load(name))
        assert not recording.clock_exact
        report = check_recording(recording, HANDLE, source=name)
        assert report.ok, report.line()


def test_unfolded_ids_follow_creation_order_across_tasks_and_timers() -> None:
    recording = read_recording(_load("retry"))
    ids = [ev["EventId"] for _, ev in recording.scheduled]
    assert ids == list(range(len(ids)))
    kinds = [ev["EventType"] for _, ev in recording.scheduled]
    assert 10 in kinds  # the retry timer keeps its place between the failed and the next attempt


def test_a_changed_order_still_diverges_in_azure_shape() -> None:
    def searches_first(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        yield context.call_activity("search_documents", context.get_input())

    report = check_recording(read_recording(_load("clean")), df.Orchestrator.create(searches_first), source="clean")
    assert report.outcome == "diverged" and report.event_index == 1
    assert "'embed_query'" in (report.recorded or "") and "'search_documents'" in (report.scheduled or "")
