"""Histories in the shape Azure's Durable HTTP API returns them replay like the embedded host's.

Azure leaves `TaskScheduled` out of the status JSON and folds it into each completion (`FunctionName`,
`ScheduledTime`), without task ids. The reader puts the scheduling events back with ids in creation order.

Two sources, kept apart because one of them is ours:
- `azure_documented/clean-completed.json` is written in the shape the extension documents for
  `GET /runtime/webhooks/durabletask/instances/{id}?showHistory=true&showHistoryOutput=true` (the sample
  response under "Get instance status" in https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api):
  top-level `runtimeStatus, input, customStatus, output, createdTime, lastUpdatedTime, historyEvents`;
  `ExecutionStarted` with `FunctionName` and `Timestamp` only; `TaskCompleted` with `FunctionName`, `Result`,
  `ScheduledTime`, `Timestamp`; `ExecutionCompleted` with `OrchestrationStatus` as a name. Its values (the
  activities' results) are a pipeline run's; its shape is the documentation's, not our reader's.
- The failure paths (TaskFailed, timers), which the documented sample does not show, are folded from local
  recordings by :func:`_folded_like_azure`, the tests' own converter: they test the reader against itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.durable_functions as df

from embedded_host.durable.checker import check_recording
from embedded_host.durable.recorded import read_recording
from orchestration.orchestrator import pipeline_orchestrator

CORPUS = Path(__file__).resolve().parents[1] / "replay_corpus"
HANDLE = pipeline_orchestrator._function._func


def _folded_like_azure(doc: dict[str, Any]) -> dict[str, Any]:
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
    return _folded_like_azure(json.loads((CORPUS / f"{name}.json").read_text()))


DOCUMENTED = Path(__file__).with_name("azure_documented") / "clean-completed.json"
# The fields of the documented sample response, per level (see the module docstring for the page).
DOCUMENTED_STATUS_KEYS = {"runtimeStatus", "input", "customStatus", "output", "createdTime", "lastUpdatedTime"}
DOCUMENTED_EVENT_KEYS = {
    "ExecutionStarted": {"EventType", "FunctionName", "Timestamp"},
    "TaskCompleted": {"EventType", "FunctionName", "Result", "ScheduledTime", "Timestamp"},
    "ExecutionCompleted": {"EventType", "OrchestrationStatus", "Result", "Timestamp"},
}


def test_a_history_in_the_extensions_documented_shape_replays_cleanly() -> None:
    doc = json.loads(DOCUMENTED.read_text())
    assert set(doc) == DOCUMENTED_STATUS_KEYS | {"historyEvents"}, "the fixture drifted from the documented shape"
    assert all(set(ev) == DOCUMENTED_EVENT_KEYS[ev["EventType"]] for ev in doc["historyEvents"])
    recording = read_recording(doc)
    assert [ev["Name"] for _, ev in recording.scheduled] == [
        "embed_query",
        "search_documents",
        "generate_answer",
        "publish_result",
    ]
    report = check_recording(recording, HANDLE, source=DOCUMENTED.name)
    assert report.ok, report.line()


def test_folded_failure_histories_replay_cleanly() -> None:
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
