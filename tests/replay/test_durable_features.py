"""`pipeline replay` on histories with sub-orchestrations and entity messages, recorded by the embedded host.

The conformance app (tests/conformance/app) runs once per module in an in-process EmbeddedHost; each recorded
status is then replayed through the app's own orchestrators (must be clean) and through edited copies of them
written here (must part at the right event, saying what was recorded and what the code now schedules). The
same recordings are also checked in the SDK's numeric shape and in the shape Azure's status API gives them.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import pytest

from cli.main import main
from embedded_host.durable.checker import ReplayReport, check_recording
from embedded_host.durable.episode import OrchestratorHandle, handle_of
from embedded_host.durable.history import EventType
from embedded_host.durable.recorded import RecordingError, read_recording

APP = Path(__file__).resolve().parents[1] / "conformance" / "app"

RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "subs": ("sub_parent", {"key": "subs", "width": 2}),  # a named child, then two fanned out without an id
    "failed-child": ("sub_failing_parent", {"key": "fc"}),
    "child-retry": ("sub_retry_parent", {"key": "cr", "attempts": 3, "fail_times": 1, "retry_ms": 10}),
    "named-child-retry": (
        "sub_retry_parent",
        {"key": "ncr", "attempts": 2, "fail_times": 5, "retry_ms": 10, "named": True},
    ),
    "entities": ("counter_workflow", {"key": "cw", "signals": 2, "calls": 1}),
}


class _Backend(BaseHTTPRequestHandler):
    """What a durable HTTP call reaches: 200 with a small JSON body."""

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each run's status with history (by run name), and the app's orchestrators (under "handles")."""
    from embedded_host import EmbeddedHost

    tmp = tmp_path_factory.mktemp("durable-features")
    patch = pytest.MonkeyPatch()
    patch.setenv("CONFORMANCE_MARKERS", str(tmp / "markers"))

    async def record() -> dict[str, Any]:
        statuses: dict[str, Any] = {}
        async with EmbeddedHost(APP, tmp / "data") as host:
            for run, (name, data) in RUNS.items():
                host.client.start_instance(name, run, json.dumps(data))
                done = await host.wait_for_completion(run, 20)
                assert done is not None and done["runtimeStatus"] == "Completed", done
                statuses[run] = host.client.get_status(run, show_history=True, show_history_output=True)
            # rewound after a failure (an activity's, then a child's): their GenericEvents keep what was undone
            for run, name in (("rewound", "rewindable"), ("rewound-parent", "rewind_parent")):
                host.client.start_instance(name, run, json.dumps({"key": run}))
                assert (await host.wait_for_completion(run, 20) or {}).get("runtimeStatus") == "Failed"
                (tmp / "markers" / f"{run}{'-child' if name == 'rewind_parent' else ''}.fixed").touch()
                assert host.client.rewind(run, "fixed") == 202
                assert (await host.wait_for_completion(run, 20) or {}).get("runtimeStatus") == "Completed"
                statuses[run] = host.client.get_status(run, show_history=True, show_history_output=True)
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                url = f"http://127.0.0.1:{server.server_address[1]}/job"
                host.client.start_instance("durable_http", "http", json.dumps({"key": "http", "url": url}))
                assert (await host.wait_for_completion("http", 20) or {}).get("runtimeStatus") == "Completed"
                statuses["http"] = host.client.get_status("http", show_history=True, show_history_output=True)
            finally:
                server.shutdown()
            for child in ("subs-named", _children(statuses["subs"])[1]):  # one named, one named by the host
                statuses[child] = host.client.get_status(child, show_history=True, show_history_output=True)
            handles = {spec.name: handle_of(spec.func, spec.trigger_name) for spec in host.app.of_kind("orchestration")}
        return {"statuses": statuses, "handles": handles}

    try:
        return asyncio.run(record())
    finally:
        patch.undo()


def _children(status: dict[str, Any]) -> list[str]:
    return [e["InstanceId"] for e in status["historyEvents"] if e["EventType"] == "SubOrchestrationInstanceCreated"]


def _doc(recorded: dict[str, Any], run: str) -> dict[str, Any]:
    return json.loads(json.dumps(recorded["statuses"][run]))  # a copy a test may edit


def _check(doc: dict[str, Any], handle: OrchestratorHandle) -> ReplayReport:
    return check_recording(read_recording(doc), handle, source=str(doc.get("instanceId")))


def _kinds(doc: dict[str, Any]) -> list[str]:
    return [e["EventType"] for e in doc["historyEvents"]]


def _sdk_shape(doc: dict[str, Any]) -> dict[str, Any]:
    """As the extension hands history to the worker: event types as numbers, payloads as JSON text."""
    numbers = {
        name: number
        for number, name in enumerate(
            [
                "ExecutionStarted",
                "ExecutionCompleted",
                "ExecutionFailed",
                "ExecutionTerminated",
                "TaskScheduled",
                "TaskCompleted",
                "TaskFailed",
                "SubOrchestrationInstanceCreated",
                "SubOrchestrationInstanceCompleted",
                "SubOrchestrationInstanceFailed",
                "TimerCreated",
                "TimerFired",
                "OrchestratorStarted",
                "OrchestratorCompleted",
                "EventSent",
                "EventRaised",
            ]
        )
    }
    events = []
    for raw in doc["historyEvents"]:
        ev = {**raw, "EventType": numbers[raw["EventType"]]}
        for key in ("Result", "Input"):
            if key in ev and ev[key] is not None and not isinstance(ev[key], str):
                ev[key] = json.dumps(ev[key])
        events.append(ev)
    return {**doc, "historyEvents": events}


def _azure_shape(doc: dict[str, Any], *, event_inputs: bool | str = True) -> dict[str, Any]:
    """As Azure's status API shows it (DurableClient.GetStatusAsync): no EventId/TaskScheduledId/TimerId, each
    TaskScheduled and SubOrchestrationInstanceCreated folded into its completion (FunctionName, ScheduledTime),
    EventSent as stored (its Input as JSON text), and EventRaised without Input in older extension versions
    (``event_inputs=False``) or with it as stored (``event_inputs="text"``)."""
    created = {
        e["EventId"]: e
        for e in doc["historyEvents"]
        if e["EventType"] in ("TaskScheduled", "SubOrchestrationInstanceCreated")
    }
    completions = {e.get("TaskScheduledId") for e in doc["historyEvents"] if "TaskScheduledId" in e}
    events = []
    for raw in doc["historyEvents"]:
        if raw["EventType"] in ("TaskScheduled", "SubOrchestrationInstanceCreated") and raw["EventId"] in completions:
            continue
        ev = {k: v for k, v in raw.items() if k not in ("EventId", "TaskScheduledId", "TimerId")}
        if "TaskScheduledId" in raw:
            origin = created[raw["TaskScheduledId"]]
            ev["FunctionName"], ev["ScheduledTime"] = origin["Name"], origin["Timestamp"]
        if raw["EventType"] == "ExecutionStarted":
            ev["FunctionName"] = ev.pop("Name")
        if raw["EventType"] == "EventSent":
            ev["Input"] = json.dumps(raw["Input"])
        if raw["EventType"] == "EventRaised" and not event_inputs:
            ev.pop("Input")
        elif raw["EventType"] == "EventRaised" and event_inputs == "text":
            ev["Input"] = json.dumps(raw["Input"])
        events.append(ev)
    return {**doc, "historyEvents": events}


# -- edited orchestrators: what a developer might deploy over instances in flight ------------------------------


def _renamed_first_child(context: df.DurableOrchestrationContext) -> Iterator[Any]:
    data = context.get_input()
    yield context.call_sub_orchestrator("sub_child_v2", {"key": f"{data['key']}-named"}, f"{context.instance_id}-named")
    yield context.task_all([context.call_sub_orchestrator("sub_child", {"key": "x"}) for _ in range(2)])


def _renamed_fanned_child(context: df.DurableOrchestrationContext) -> Iterator[Any]:
    data = context.get_input()
    yield context.call_sub_orchestrator("sub_child", {"key": f"{data['key']}-named"}, f"{context.instance_id}-named")
    yield context.task_all(
        [context.call_sub_orchestrator("sub_child", {}), context.call_sub_orchestrator("sub_child_v2", {})]
    )
    return None


def _extra_child_first(context: df.DurableOrchestrationContext) -> Iterator[Any]:
    yield context.call_sub_orchestrator("audit_child", {})
    yield from _renamed_first_child(context)


def _one_fanned_child(context: df.DurableOrchestrationContext) -> Iterator[Any]:
    data = context.get_input()
    named = yield context.call_sub_orchestrator("sub_child", {}, f"{context.instance_id}-named")
    fanned = yield context.task_all([context.call_sub_orchestrator("sub_child", {})])
    return {"named": named, "fanned": fanned, "key": data["key"]}


def _first_child_renamed_id(context: df.DurableOrchestrationContext) -> Iterator[Any]:
    yield context.call_sub_orchestrator("sub_child", {}, f"{context.instance_id}-first")
    yield context.task_all([context.call_sub_orchestrator("sub_child", {}) for _ in range(2)])


def _first_child_without_id(context: df.DurableOrchestrationContext) -> Iterator[Any]:
    yield context.call_sub_orchestrator("sub_child", {})
    yield context.task_all([context.call_sub_orchestrator("sub_child", {}) for _ in range(2)])


def _no_longer_catches(context: df.DurableOrchestrationContext) -> Iterator[Any]:
    return (yield context.call_sub_orchestrator("sub_child", {"fail": True}))


def _fewer_child_attempts(context: df.DurableOrchestrationContext) -> Iterator[Any]:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=10, max_number_of_attempts=1)
    try:
        return (yield context.call_sub_orchestrator_with_retry("flaky_child", options, context.get_input()))
    except Exception as exc:
        return {"caught": str(exc).splitlines()[0]}


def _counter(context: df.DurableOrchestrationContext, *, key: str, call_op: str, signal: bool = True) -> Iterator[Any]:
    entity = df.EntityId("Counter", key)
    for _ in range(2):
        if signal:
            context.signal_entity(entity, "add", 1)
        else:
            yield context.call_entity(entity, "add", 1)
    seen = [(yield context.call_entity(entity, call_op, 1))]
    try:
        yield context.call_entity(entity, "fail")
    except Exception as exc:
        seen.append(str(exc))
    return {"seen": seen, "final": (yield context.call_entity(entity, "get"))}


def _handle(func: Any) -> OrchestratorHandle:
    return df.Orchestrator.create(func)  # type: ignore[no-any-return]


# -- sub-orchestrations ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["subs", "failed-child", "child-retry", "named-child-retry"])
@pytest.mark.parametrize("shape", ["embedded", "sdk", "azure"])
def test_sub_orchestration_histories_replay_cleanly(recorded: dict[str, Any], run: str, shape: str) -> None:
    doc = _doc(recorded, run)
    assert "SubOrchestrationInstanceCreated" in _kinds(doc)
    doc = {"embedded": doc, "sdk": _sdk_shape(doc), "azure": _azure_shape(doc)}[shape]
    recording = read_recording(doc)
    assert recording.clock_exact == (shape != "azure")
    children = [ev for _, ev in recording.scheduled if ev["EventType"] == EventType.SubOrchestrationInstanceCreated]
    assert children and [ev["EventId"] for _, ev in recording.scheduled] == list(range(len(recording.scheduled)))
    report = check_recording(recording, recorded["handles"][RUNS[run][0]], source=run)
    assert report.ok, report.line()


def test_a_child_history_replays_with_its_parent_id(recorded: dict[str, Any]) -> None:
    child_handle = recorded["handles"]["sub_child"]
    parents: list[str | None] = []

    def watched(context: str) -> str:  # the child reads context.parent_instance_id: it must get the recorded one
        parents.append(json.loads(context)["parentInstanceId"])
        return child_handle(context)  # type: ignore[no-any-return]

    for child in ("subs-named", _children(recorded["statuses"]["subs"])[1]):
        doc = _doc(recorded, child)
        assert doc["historyEvents"][0]["ParentInstance"]["OrchestrationInstance"]["InstanceId"] == "subs"
        report = _check(doc, watched)
        assert report.ok, report.line()
    assert parents and set(parents) == {"subs"}


@pytest.mark.parametrize("shape", ["embedded", "azure"])
def test_a_renamed_child_orchestrator_diverges_at_its_creation(recorded: dict[str, Any], shape: str) -> None:
    doc = _doc(recorded, "subs")
    doc = _azure_shape(doc) if shape == "azure" else doc
    report = _check(doc, _handle(_renamed_first_child))
    # Azure folds the creation into the completion, so the rebuilt event sits where the completion is
    assert report.outcome == "diverged" and report.event_index == 1, report.line()
    assert report.recorded is not None and "sub-orchestration 'sub_child'" in report.recorded
    assert report.scheduled == "scheduled sub-orchestration 'sub_child_v2', instance 'subs-named' (task 0)"
    assert "diverges at historyEvents[1]" in report.line()

    report = _check(_doc(recorded, "subs"), _handle(_renamed_fanned_child))
    assert report.outcome == "diverged" and report.event_index == 4, report.line()
    assert "'sub_child_v2'" in (report.scheduled or "") and "(task 2)" in (report.recorded or "")


def test_an_added_or_dropped_child_call_diverges(recorded: dict[str, Any]) -> None:
    report = _check(_doc(recorded, "subs"), _handle(_extra_child_first))
    assert report.outcome == "diverged" and report.event_index == 1, report.line()
    assert "'audit_child'" in (report.scheduled or "")

    report = _check(_doc(recorded, "subs"), _handle(_one_fanned_child))
    assert report.outcome == "diverged" and report.event_index == 4, report.line()
    assert report.recorded is not None and "(task 2)" in report.recorded and report.scheduled == "completed instead"


def test_a_changed_child_instance_id_diverges(recorded: dict[str, Any]) -> None:
    report = _check(_doc(recorded, "subs"), _handle(_first_child_renamed_id))
    assert report.outcome == "diverged" and report.event_index == 1, report.line()
    assert "instance 'subs-named'" in (report.recorded or "") and "'subs-first'" in (report.scheduled or "")
    # dropping the id: the host would name the child anew, not 'subs-named'
    report = _check(_doc(recorded, "subs"), _handle(_first_child_without_id))
    assert report.outcome == "diverged" and report.event_index == 1, report.line()


def test_a_failed_child_is_delivered_to_the_parent(recorded: dict[str, Any]) -> None:
    doc = _doc(recorded, "failed-child")
    assert _kinds(doc)[2] == "SubOrchestrationInstanceFailed"
    assert _check(doc, recorded["handles"]["sub_failing_parent"]).ok
    report = _check(_doc(recorded, "failed-child"), _handle(_no_longer_catches))
    assert report.outcome == "raises" and report.event_index == 2, report.line()
    assert "child fc refuses" in report.message


def test_a_retried_child_with_fewer_attempts_parts_at_the_failure(recorded: dict[str, Any]) -> None:
    doc = _doc(recorded, "child-retry")
    assert _kinds(doc)[2:6] == [
        "SubOrchestrationInstanceFailed",
        "TimerCreated",
        "TimerFired",
        "SubOrchestrationInstanceCreated",
    ]
    report = _check(doc, _handle(_fewer_child_attempts))
    assert not report.ok and report.event_index is not None and report.event_index >= 2, report.line()


@pytest.mark.parametrize("run", ["rewound", "rewound-parent", "http"])
def test_rewound_and_durable_http_histories_replay_cleanly(recorded: dict[str, Any], run: str) -> None:
    doc = _doc(recorded, run)
    kinds = _kinds(doc)
    if run == "http":
        assert doc["historyEvents"][1]["Name"] == "BuiltIn::HttpActivity"
    else:
        assert "GenericEvent" in kinds
    name = {"rewound": "rewindable", "rewound-parent": "rewind_parent", "http": "durable_http"}[run]
    report = _check(doc, recorded["handles"][name])
    assert report.ok, report.line()


# -- entities ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["embedded", "sdk", "azure", "azure-text"])
def test_entity_calls_and_signals_replay_cleanly(recorded: dict[str, Any], shape: str) -> None:
    doc = _doc(recorded, "entities")
    assert _kinds(doc).count("EventSent") == 5 and _kinds(doc).count("EventRaised") == 3
    doc = {
        "embedded": doc,
        "sdk": _sdk_shape(doc),
        "azure": _azure_shape(doc),
        "azure-text": _azure_shape(doc, event_inputs="text"),
    }[shape]
    recording = read_recording(doc)
    assert [ev["EventType"] for _, ev in recording.scheduled] == [EventType.EventSent] * 5
    report = check_recording(recording, recorded["handles"]["counter_workflow"], source=shape)
    assert report.ok, report.line()
    # the same history through an edited copy that keeps every message: the copy itself is not the cause
    report = check_recording(read_recording(doc), _handle(lambda c: _counter(c, key="cw", call_op="add")), source="")
    assert report.ok, report.line()


def test_a_changed_entity_operation_or_target_diverges(recorded: dict[str, Any]) -> None:
    doc = _doc(recorded, "entities")
    report = _check(doc, _handle(lambda c: _counter(c, key="cw", call_op="subtract")))
    assert report.outcome == "diverged" and report.event_index == 3, report.line()
    assert report.recorded == "entity call 'add' to @counter@cw (task 2)"
    assert report.scheduled == "scheduled entity call 'subtract' to @counter@cw (task 2)"

    report = _check(_doc(recorded, "entities"), _handle(lambda c: _counter(c, key="other", call_op="add")))
    assert report.outcome == "diverged" and report.event_index == 1, report.line()
    assert "@counter@cw" in (report.recorded or "") and "@counter@other" in (report.scheduled or "")

    report = _check(_doc(recorded, "entities"), _handle(lambda c: _counter(c, key="cw", call_op="add", signal=False)))
    assert report.outcome == "diverged" and report.event_index == 1, report.line()
    assert "entity signal 'add'" in (report.recorded or "") and "entity call 'add'" in (report.scheduled or "")


def test_an_entity_answer_without_its_payload_is_refused_by_name(recorded: dict[str, Any]) -> None:
    doc = _azure_shape(_doc(recorded, "entities"), event_inputs=False)
    with pytest.raises(
        RecordingError, match=r"historyEvents\[4\] is the EventRaised that answers entity operation 'add'"
    ):
        read_recording(doc)
    doc = _doc(recorded, "entities")
    del doc["historyEvents"][1]["Input"]
    with pytest.raises(RecordingError, match=r"historyEvents\[1\] \(EventSent\) has no entity request message"):
        read_recording(doc)


# -- through the CLI ---------------------------------------------------------------------------------------------


def test_cli_replays_the_recordings_against_the_app(
    recorded: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for run in RUNS:
        (tmp_path / f"{run}.json").write_text(json.dumps(recorded["statuses"][run]))
    assert main(["replay", "--app", str(APP), "--json", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"clean": len(RUNS), "diverged": 0, "raises": 0, "error": 0}


def test_an_azure_history_in_flight_keeps_the_children_still_running(recorded: dict[str, Any]) -> None:
    doc = _doc(recorded, "subs")
    doc["historyEvents"], doc["runtimeStatus"] = doc["historyEvents"][:5], "Running"  # both fanned out, none back
    azure = _azure_shape(doc)
    assert (
        _kinds(azure)
        == ["ExecutionStarted", "SubOrchestrationInstanceCompleted"] + ["SubOrchestrationInstanceCreated"] * 2
    )
    recording = read_recording(azure)
    assert [ev["EventId"] for _, ev in recording.scheduled] == [0, 1, 2]
    report = check_recording(recording, recorded["handles"]["sub_parent"], source="in-flight")
    assert report.ok, report.line()
    report = check_recording(read_recording(_azure_shape(doc)), _handle(_renamed_fanned_child), source="in-flight")
    assert report.outcome == "diverged" and report.event_index == 3, report.line()
