"""Sub-orchestrations in the engine: history events, child instances and ids, failures, retries, terminate."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from embedded_host import EmbeddedHost

APP = Path(__file__).resolve().parents[1] / "conformance" / "app"


@pytest.fixture
def run_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CONFORMANCE_MARKERS", str(tmp_path / "markers"))

    def runner(scenario: Any) -> Any:
        async def main() -> Any:
            async with EmbeddedHost(APP, tmp_path / "data") as host:
                return await scenario(host)

        return asyncio.run(main())

    return runner


async def _run(host: EmbeddedHost, name: str, iid: str, data: dict[str, Any]) -> dict[str, Any]:
    host.client.start_instance(name, iid, json.dumps(data))
    status = await host.wait_for_completion(iid, 15)
    assert status is not None
    return status


async def _started(host: EmbeddedHost, iid: str) -> None:
    """Wait (up to 2 s) until the parent has created its child `iid`."""
    for _ in range(100):
        if host.client.get_status(iid) is not None:
            return
        await asyncio.sleep(0.02)


def _history(host: EmbeddedHost, iid: str) -> list[dict[str, Any]]:
    status = host.client.get_status(iid, show_history=True, show_history_output=True)
    assert status is not None
    return status["historyEvents"]


def test_children_with_and_without_instance_id(run_app) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        status = await _run(host, "sub_parent", "p1", {"key": "p1", "width": 2})
        assert status["runtimeStatus"] == "Completed", status
        output = status["output"]
        assert output["named"] == {"child": "p1-named", "parent": "p1", "steps": ["p1-named:0", "p1-named:1"]}
        history = _history(host, "p1")
        execution_id = json.loads(
            host.engine.conn.execute("SELECT event FROM history WHERE instance_id = 'p1' AND seq = 1").fetchone()[0]
        )["OrchestrationInstance"]["ExecutionId"]
        created = [e for e in history if e["EventType"] == "SubOrchestrationInstanceCreated"]
        # DTFx's default child id: the parent's execution id and the task id
        assert [(e["EventId"], e["InstanceId"]) for e in created] == [
            (0, "p1-named"),
            (1, f"{execution_id}:1"),
            (2, f"{execution_id}:2"),
        ]
        assert [c["child"] for c in output["fanned"]] == [f"{execution_id}:1", f"{execution_id}:2"]
        done = [e["TaskScheduledId"] for e in history if e["EventType"] == "SubOrchestrationInstanceCompleted"]
        assert sorted(done) == [0, 1, 2]
        assert {e["EventType"] for e in history} == {
            "ExecutionStarted",
            "SubOrchestrationInstanceCreated",
            "SubOrchestrationInstanceCompleted",
            "ExecutionCompleted",
        }
        child = host.client.get_status("p1-named", show_history=True)
        assert child is not None and child["runtimeStatus"] == "Completed" and child["name"] == "sub_child"
        assert child["input"] == {"key": "p1-named", "sleep": 0}
        started = child["historyEvents"][0]
        assert started["ParentInstance"]["OrchestrationInstance"] == {"InstanceId": "p1", "ExecutionId": execution_id}
        assert started["ParentInstance"]["TaskScheduleId"] == 0 and started["ParentInstance"]["Name"] == "sub_parent"

    run_app(scenario)


def test_failed_child_is_the_parents_exception(run_app) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        caught = await _run(host, "sub_failing_parent", "f1", {"key": "f1"})
        assert caught["runtimeStatus"] == "Completed"
        assert caught["output"]["caught"].startswith("Orchestrator function 'sub_child' failed: child f1 refuses")
        failed = [e for e in _history(host, "f1") if e["EventType"] == "SubOrchestrationInstanceFailed"]
        assert len(failed) == 1 and failed[0]["TaskScheduledId"] == 0
        rethrown = await _run(host, "sub_failing_parent", "f2", {"key": "f2", "rethrow": True})
        assert rethrown["runtimeStatus"] == "Failed"
        assert "child f2 refuses" in rethrown["output"]

    run_app(scenario)


def test_retried_child_gets_a_new_child_per_attempt(run_app, tmp_path: Path) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        status = await _run(host, "sub_retry_parent", "r1", {"key": "r1", "fail_times": 1, "attempts": 3})
        assert status["runtimeStatus"] == "Completed" and status["output"]["result"] == "ok after 2"
        kinds = [
            (e["EventType"], e.get("EventId", e.get("TaskScheduledId", e.get("TimerId")))) for e in _history(host, "r1")
        ]
        assert kinds[1:-1] == [
            ("SubOrchestrationInstanceCreated", 0),
            ("SubOrchestrationInstanceFailed", 0),
            ("TimerCreated", 1),
            ("TimerFired", 1),
            ("SubOrchestrationInstanceCreated", 2),
            ("SubOrchestrationInstanceCompleted", 2),
        ]
        named = await _run(host, "sub_retry_parent", "r2", {"key": "r2", "fail_times": 1, "attempts": 3, "named": True})
        assert named["output"] == {"child": "r2-child", "result": "ok after 2"}
        exhausted = await _run(host, "sub_retry_parent", "r3", {"key": "r3", "fail_times": 5, "attempts": 2})
        assert exhausted["output"]["caught"].startswith("Orchestrator function 'flaky_child' failed")
        assert (tmp_path / "markers" / "r3").read_text().split() == ["attempt", "attempt"]

    run_app(scenario)


def test_terminated_child_fails_the_parents_task(run_app) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        host.client.start_instance("sub_parent", "t1", json.dumps({"key": "t1", "sleep": 2.0}))
        await _started(host, "t1-named")
        assert host.client.terminate("t1-named", "stop it") == 202
        status = await host.wait_for_completion("t1", 10)
        assert status is not None and status["runtimeStatus"] == "Failed"
        assert "terminated: stop it" in status["output"]
        assert host.client.get_status("t1-named")["runtimeStatus"] == "Terminated"

    run_app(scenario)


def test_terminating_the_parent_leaves_the_child_running(run_app) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        host.client.start_instance("sub_parent", "t2", json.dumps({"key": "t2", "sleep": 0.3}))
        await _started(host, "t2-named")
        assert host.client.terminate("t2", "parent only") == 202
        parent = await host.wait_for_completion("t2", 10)
        assert parent is not None and parent["runtimeStatus"] == "Terminated"
        child = await host.wait_for_completion("t2-named", 10)
        assert child is not None and child["runtimeStatus"] == "Completed"  # as in the extension: no cascade
        assert [e["EventType"] for e in _history(host, "t2")][-1] == "ExecutionTerminated"

    run_app(scenario)


def test_children_a_host_cannot_start_fail_the_parents_task(run_app) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        missing = await _run(host, "sub_by_id", "m1", {"name": "no_such_orchestrator"})
        assert missing["output"]["caught"].startswith("The function 'no_such_orchestrator' doesn't exist")
        itself = await _run(host, "sub_by_id", "m2", {"name": "sub_child", "id": "m2", "input": {"key": "m2"}})
        assert "must be different than the instance ID of a parent" in itself["output"]["caught"]
        host.client.start_instance("sub_parent", "busy", json.dumps({"key": "busy", "sleep": 0.5}))
        await _started(host, "busy-named")
        taken = await _run(host, "sub_by_id", "m3", {"name": "sub_child", "id": "busy-named", "input": {"key": "x"}})
        assert taken["output"]["caught"].startswith("An Orchestration instance with the status Running already")
        # a finished child's id can be used again: the old instance is overwritten
        done = await _run(host, "sub_by_id", "m4", {"name": "sub_child", "id": "p-old", "input": {"key": "a"}})
        again = await _run(host, "sub_by_id", "m5", {"name": "sub_child", "id": "p-old", "input": {"key": "b"}})
        assert done["output"]["result"]["parent"] == "m4" and again["output"]["result"]["parent"] == "m5"
        assert host.client.get_status("p-old")["input"] == {"key": "b"}
        assert (await host.wait_for_completion("busy", 15))["runtimeStatus"] == "Completed"

    run_app(scenario)
