"""Each documented Durable pattern through `pipeline serve`, with a kill -9 of the host in the middle of it.

After the restart every pattern must finish as it would have without the crash: the right output, the history
events the extension records, every activity run at least once and none more than the one in flight at the
kill again (the side files count executions), no child orchestration created twice.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from .conftest import AppHost

pytestmark = pytest.mark.conformance


def _kinds(status: dict[str, Any]) -> list[str]:
    return [e["EventType"] for e in status["historyEvents"]]


def _at_least_once(runs: list[str], expected: list[str], in_flight: int = 1) -> None:
    """Every step ran; only the steps in flight at the kill (at most ``in_flight``) ran twice."""
    counts = Counter(runs)
    assert sorted(counts) == sorted(expected), runs
    assert max(counts.values()) <= 2 and sum(c - 1 for c in counts.values()) <= in_flight, counts


def test_function_chaining(app_host: AppHost, kill_and_restart) -> None:
    app_host.start_pattern("chaining", "chain-1", {"key": "chain-1", "steps": 6, "sleep": 0.08})
    app_host.wait_runs("chain-1", 2)
    kill_and_restart("chain-1")
    status = app_host.wait("chain-1")
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == [f"chain-1:{n}" for n in range(6)]
    assert _kinds(status).count("TaskCompleted") == 6 and _kinds(status).count("ExecutionCompleted") == 1
    _at_least_once(app_host.runs("chain-1"), [str(n) for n in range(6)])


def test_fan_out_fan_in(app_host: AppHost, kill_and_restart) -> None:
    width = 40
    app_host.start_pattern("fan_out_fan_in", "fan-1", {"key": "fan-1", "width": width, "sleep": 0.15})
    app_host.wait_runs("fan-1", 5)
    kill_and_restart("fan-1")
    status = app_host.wait("fan-1")
    assert status["runtimeStatus"] == "Completed" and status["output"] == width
    scheduled = [e["EventId"] for e in status["historyEvents"] if e["EventType"] == "TaskScheduled"]
    assert scheduled == list(range(width))
    # up to maxConcurrentActivityFunctions (16) were in flight at the kill
    _at_least_once(app_host.runs("fan-1"), [str(n) for n in range(width)], in_flight=16)


def test_external_event_beats_timer_across_a_restart(app_host: AppHost, kill_and_restart) -> None:
    urls = app_host.start_pattern("event_or_timer", "race-event", {"timeout_s": 60})
    app_host.wait("race-event", until=("Running",))
    kill_and_restart("race-event")
    resp = app_host.http.post(urls["sendEventPostUri"].replace("{eventName}", "go"), json={"n": 1})
    assert resp.status_code == 202
    status = app_host.wait("race-event")
    assert status["output"] == {"winner": "event", "value": {"n": 1}}
    assert _kinds(status).count("EventRaised") == 1 and "TimerFired" not in _kinds(status)


def test_timer_beats_event_across_a_restart(app_host: AppHost, kill_and_restart) -> None:
    app_host.start_pattern("event_or_timer", "race-timer", {"timeout_s": 1.5})
    app_host.wait("race-timer", until=("Running",))
    kill_and_restart("race-timer")  # the timer is in the file; it fires after the restart
    status = app_host.wait("race-timer")
    assert status["output"] == {"winner": "timer"} and _kinds(status).count("TimerFired") == 1


def test_monitor_with_continue_as_new(app_host: AppHost, kill_and_restart) -> None:
    app_host.start_pattern("monitor", "mon-1", {"key": "mon-1", "n": 0, "until": 6, "every_ms": 150})
    app_host.wait_runs("mon-1", 2)
    kill_and_restart("mon-1")
    status = app_host.wait("mon-1")
    assert status["runtimeStatus"] == "Completed" and status["output"] == 6
    assert status["input"]["n"] == 5  # the last generation's input
    _at_least_once(app_host.runs("mon-1"), [str(n) for n in range(6)])


def test_activity_retry(app_host: AppHost, kill_and_restart) -> None:
    app_host.start_pattern(
        "activity_retry", "retry-1", {"key": "retry-1", "fail_times": 2, "attempts": 5, "retry_ms": 300}
    )
    app_host.wait_runs("retry-1", 1)
    kill_and_restart("retry-1")
    status = app_host.wait("retry-1")
    assert status["runtimeStatus"] == "Completed", status
    attempts = len(app_host.runs("retry-1"))
    assert status["output"] == f"ok after {attempts}" and 3 <= attempts <= 4
    kinds = _kinds(status)
    failed = kinds.count("TaskFailed")
    assert failed == kinds.count("TimerFired") == kinds.count("TaskScheduled") - 1
    assert 0 <= attempts - 1 - failed <= 1  # at most the attempt in flight at the kill ran again


def test_sub_orchestrations_with_and_without_instance_id(app_host: AppHost, kill_and_restart) -> None:
    app_host.start_pattern("sub_parent", "subs-1", {"key": "subs-1", "width": 3, "sleep": 0.1})
    app_host.wait_runs("subs-1-named", 1)
    kill_and_restart("subs-1", "subs-1-named")
    status = app_host.wait("subs-1")
    assert status["runtimeStatus"] == "Completed", status
    created = [e for e in status["historyEvents"] if e["EventType"] == "SubOrchestrationInstanceCreated"]
    children = [e["InstanceId"] for e in created]
    assert [e["EventId"] for e in created] == [0, 1, 2, 3] and children[0] == "subs-1-named"
    assert len(set(children)) == 4
    assert _kinds(status).count("SubOrchestrationInstanceCompleted") == 4
    assert [c["child"] for c in status["output"]["fanned"]] == children[1:]
    for child_id, key in zip(children, ["subs-1-named", "subs-1-fan0", "subs-1-fan1", "subs-1-fan2"], strict=True):
        child = app_host.status(child_id, history=True)
        assert child is not None and child["runtimeStatus"] == "Completed" and child["name"] == "sub_child"
        parent = child["historyEvents"][0]["ParentInstance"]
        assert parent["OrchestrationInstance"]["InstanceId"] == "subs-1"
        _at_least_once(app_host.runs(key), ["0", "1"])
    # no child was created twice: exactly these four sub_child instances answer to subs-1
    listed = app_host.http.get("/runtime/webhooks/durabletask/instances", params={"top": "1000"}).json()
    assert sorted(
        s["instanceId"] for s in listed if s["name"] == "sub_child" and s["instanceId"] in children
    ) == sorted(children)


def test_failing_and_retried_sub_orchestrations(app_host: AppHost, kill_and_restart) -> None:
    app_host.start_pattern(
        "sub_retry_parent",
        "subretry-1",
        {"key": "subretry-1", "fail_times": 1, "attempts": 3, "named": True, "retry_ms": 400},
    )
    app_host.start_pattern(
        "sub_retry_parent", "subretry-2", {"key": "subretry-2", "fail_times": 2, "attempts": 4, "retry_ms": 400}
    )
    app_host.start_pattern("sub_failing_parent", "subfail-1", {"key": "subfail-1"})
    app_host.wait_runs("subretry-2", 1)
    kill_and_restart("subretry-1", "subretry-2")
    failing = app_host.wait("subfail-1")
    assert failing["runtimeStatus"] == "Completed"
    assert failing["output"]["caught"].startswith("Orchestrator function 'sub_child' failed: child subfail-1 refuses")
    named = app_host.wait("subretry-1")
    assert named["output"]["child"] == "subretry-1-child" and named["output"]["result"].startswith("ok after")
    unnamed = app_host.wait("subretry-2")
    assert unnamed["runtimeStatus"] == "Completed" and unnamed["output"]["result"].startswith("ok after")
    kinds = _kinds(unnamed)
    assert kinds.count("SubOrchestrationInstanceCompleted") == 1
    assert kinds.count("SubOrchestrationInstanceCreated") == kinds.count("SubOrchestrationInstanceFailed") + 1
    ids = [e["InstanceId"] for e in unnamed["historyEvents"] if e["EventType"] == "SubOrchestrationInstanceCreated"]
    assert len(set(ids)) == len(ids)  # each attempt is a new child (the default id takes the attempt's task id)


def test_human_interaction_with_raise_event_over_http(app_host: AppHost, kill_and_restart) -> None:
    urls = app_host.start_pattern("human_interaction", "approve-1", {"key": "approve-1", "timeout_s": 60})
    app_host.wait_runs("approve-1", 1)
    kill_and_restart("approve-1")
    resp = app_host.http.post(urls["sendEventPostUri"].replace("{eventName}", "Approval"), json="alice")
    assert resp.status_code == 202
    status = app_host.wait("approve-1")
    assert status["output"] == {"approved": "alice"} and status["customStatus"] == {"approved_by": "alice"}
    _at_least_once(app_host.runs("approve-1"), ["0", "1"])


def test_suspend_and_resume_across_a_restart(app_host: AppHost, kill_and_restart) -> None:
    urls = app_host.start_pattern("suspendable", "susp-1", {"key": "susp-1"})
    app_host.wait_runs("susp-1", 1)
    app_host.wait("susp-1", until=("Running",))
    assert app_host.http.post(urls["suspendPostUri"].replace("{text}", "hold")).status_code == 202
    app_host.wait("susp-1", until=("Suspended",))
    resp = app_host.http.post(urls["sendEventPostUri"].replace("{eventName}", "resume-me"), json=7)
    assert resp.status_code == 202
    kill_and_restart("susp-1")
    assert app_host.wait("susp-1", until=("Suspended",))["runtimeStatus"] == "Suspended"
    assert app_host.runs("susp-1") == ["0"]  # the held event did not run the next step
    assert app_host.http.post(urls["resumePostUri"].replace("{text}", "go")).status_code == 202
    status = app_host.wait("susp-1")
    assert status["output"] == {"steps": ["susp-1:0", "susp-1:1"], "event": 7}
    assert _kinds(status).count("EventRaised") == 1


def test_durable_http_with_202_polling(app_host: AppHost, kill_and_restart, backend) -> None:
    app_host.start_pattern(
        "durable_http",
        "http-hello",
        {
            "key": "http-hello",
            "method": "POST",
            "url": backend.url + "/hello",
            "content": {"a": 1},
            "headers": {"Authorization": "Bearer local"},
        },
    )
    app_host.start_pattern("durable_http", "http-job", {"key": "http-job", "url": backend.url + "/job"})
    hello = app_host.wait("http-hello")
    assert hello["runtimeStatus"] == "Completed", hello
    echoed = json.loads(hello["output"]["content"])
    assert hello["output"]["status"] == 200 and echoed["method"] == "POST" and json.loads(echoed["body"]) == {"a": 1}
    assert echoed["auth"] == "Bearer local" and backend.hits["/hello"] == 1
    scheduled = [e for e in hello["historyEvents"] if e["EventType"] == "TaskScheduled"]
    assert [e["Name"] for e in scheduled] == ["BuiltIn::HttpActivity", "work"]
    job = app_host.wait("http-job")
    assert job["output"]["status"] == 200 and json.loads(job["output"]["content"])["path"] == "/job/status"
    assert backend.hits["/job"] == 1 and backend.hits["/job/status"] == 3  # 202, 202, then 200

    app_host.start_pattern("durable_http", "http-slow", {"key": "http-slow", "url": backend.url + "/slow"})
    deadline = time.monotonic() + 10
    while backend.hits["/slow"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    kill_and_restart("http-slow")  # the request in flight is sent again after the restart (at-least-once)
    slow = app_host.wait("http-slow")
    assert slow["output"]["status"] == 200 and backend.hits["/slow"] == 2
    assert app_host.runs("http-slow") == ["0"]


def test_rewind_a_failed_instance_and_its_failed_child(app_host: AppHost, kill_and_restart) -> None:
    urls = app_host.start_pattern("rewindable", "rew-1", {"key": "rew-1", "sleep": 0.5})
    parent_urls = app_host.start_pattern("rewind_parent", "rew-2", {"key": "rew-2"})
    failed = app_host.wait("rew-1")
    assert failed["runtimeStatus"] == "Failed" and "rew-1 is broken" in failed["output"]
    assert app_host.wait("rew-2")["runtimeStatus"] == "Failed"
    assert app_host.wait("rew-2-child")["runtimeStatus"] == "Failed"
    (app_host.markers / "rew-1.fixed").touch()
    (app_host.markers / "rew-2-child.fixed").touch()
    assert app_host.http.post(urls["rewindPostUri"].replace("{text}", "fixed")).status_code == 202
    assert app_host.http.post(parent_urls["rewindPostUri"].replace("{text}", "fixed")).status_code == 202
    # The failed step ran again and its result is committed (the last step, 0.5 s, has started and is in flight).
    app_host.wait_runs("rew-1", 4)
    kill_and_restart("rew-1")
    status = app_host.wait("rew-1")
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["rew-1:0", "fixed", "rew-1:1"]
    runs = app_host.runs("rew-1")
    assert runs.count("0") == 1 and runs.count("fragile") == 2 and 1 <= runs.count("1") <= 2
    kinds = _kinds(status)
    assert kinds.count("GenericEvent") >= 2 and kinds.count("TaskFailed") == 0
    parent = app_host.wait("rew-2")
    assert parent["runtimeStatus"] == "Completed", parent
    assert parent["output"] == {"child": ["rew-2-child:0", "fixed", "rew-2-child:1"]}
    assert app_host.status("rew-2-child")["runtimeStatus"] == "Completed"
    assert app_host.runs("rew-2-child").count("0") == 1  # the child's completed step did not run again
    # only a failed instance rewinds
    assert app_host.http.post(urls["rewindPostUri"].replace("{text}", "again")).status_code == 410
