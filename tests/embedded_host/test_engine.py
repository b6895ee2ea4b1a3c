"""The durable engine through the real HTTP socket and the app's own SDK client."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from embedded_host import EmbeddedHost
from tests.embedded_host.app_copies import app_with_sessions
from tests.embedded_host.conftest import BASIC_APP


def _types(status: dict[str, Any]) -> list[tuple[str, Any]]:
    keys = ("EventId", "TaskScheduledId", "TimerId")
    return [(e["EventType"], next((e[k] for k in keys if k in e), None)) for e in status["historyEvents"]]


def test_http_starter_and_check_status_urls(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{host.base_url}/api/start/sequence", json={"steps": 4})
            assert resp.status == 202
            links = await resp.json()
            assert resp.headers["Location"] == links["statusQueryGetUri"]
            assert links["statusQueryGetUri"].startswith(host.base_url + "/runtime/webhooks/durabletask/instances/")
            status = await host.wait_for_completion(links["id"], 10)
            assert status and status["runtimeStatus"] == "Completed"
            resp = await http.get(links["statusQueryGetUri"])
            public = await resp.json()
            assert resp.status == 200
            assert public["output"] == [1, 2, 3, 4] and public["customStatus"] == {"done": 4}
            assert public["input"] == {"steps": 4} and public["name"] == "sequence"
            assert {"createdTime", "lastUpdatedTime", "instanceId"} <= set(public)
            # The app's own status route goes through DurableOrchestrationClient.get_status over RPC.
            resp = await http.get(f"{host.base_url}/api/status/{links['id']}")
            assert (await resp.json()) == {"status": "Completed", "output": [1, 2, 3, 4]}
            resp = await http.get(f"{host.base_url}/api/status/nope")
            assert resp.status == 404
            resp = await http.get(links["statusQueryGetUri"] + "&showHistory=true&showHistoryOutput=true")
            history = (await resp.json())["historyEvents"]
            assert history[0]["EventType"] == "ExecutionStarted" and history[-1]["EventType"] == "ExecutionCompleted"

    run_host(scenario)


def test_routes_methods_and_body_limits(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{host.base_url}/api/echo?x=1", data=b"a" * 200_000)
            assert resp.status == 200 and (await resp.json()) == {"len": 200_000, "method": "POST", "q": {"x": "1"}}
            assert (await http.get(f"{host.base_url}/api/echo")).status == 405
            assert (await http.get(f"{host.base_url}/api/nothing-here")).status == 404
            resp = await http.post(f"{host.base_url}/api/echo", data=b"a" * (2 * 1024 * 1024))
            assert resp.status == 413 and resp.headers["Content-Type"].startswith("application/problem+json")

    run_host(scenario)


def test_start_existing_and_unknown_orchestrator(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        rpc = f"{host.rpc_base_url}/durabletask/orchestrators"
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{rpc}/nope", json="null")
            assert resp.status == 400 and "nope" in (await resp.json())["ExceptionMessage"]
            iid = await host.start_new("wait_event", instance_id="fixed-id")
            resp = await http.post(f"{rpc}/wait_event/fixed-id")
            assert resp.status == 409
            host.raise_event(iid, "approve", {"ok": True})
            status = await host.wait_for_completion(iid, 10)
            assert status and status["output"] == {"approved": {"ok": True}}
            # A finished instance is overwritten and runs again, as in Azure.
            resp = await http.post(f"{rpc}/sequence/fixed-id", json='{"steps": 1}')
            assert resp.status == 202
            status = await host.wait_for_completion("fixed-id", 10)
            assert status and status["name"] == "sequence" and status["output"] == [1]

    run_host(scenario)


def test_retry_event_order_and_success(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        iid = await host.start_new("with_retry", {"attempts": 3, "fail_times": 2, "key": "r1"})
        status = await host.wait_for_completion(iid, 10)
        assert status and status["runtimeStatus"] == "Completed" and status["output"] == "ok after 3"
        events = _types(host.get_status(iid, show_history=True))
        assert events == [
            ("ExecutionStarted", None),
            ("TaskScheduled", 0),
            ("TaskFailed", 0),
            ("TimerCreated", 1),
            ("TimerFired", 1),
            ("TaskScheduled", 2),
            ("TaskFailed", 2),
            ("TimerCreated", 3),
            ("TimerFired", 3),
            ("TaskScheduled", 4),
            ("TaskCompleted", 4),
            ("ExecutionCompleted", None),
        ]

    run_host(scenario)


def test_retry_exhausted_fails_after_final_timer(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        iid = await host.start_new("with_retry", {"attempts": 2, "fail_times": 5, "key": "r2"})
        status = await host.wait_for_completion(iid, 10)
        assert status and status["runtimeStatus"] == "Failed"
        assert "flaky failure 2" in status["output"]
        events = [e for e, _ in _types(host.get_status(iid, show_history=True))]
        assert events[-3:] == ["TimerCreated", "TimerFired", "ExecutionCompleted"]
        assert events.count("TaskScheduled") == 2

    run_host(scenario)


def test_manual_retry_with_timer(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        iid = await host.start_new("manual_retry", {"fail_times": 2, "key": "m1"})
        status = await host.wait_for_completion(iid, 10)
        assert status and status["output"] == {"value": "ok after 3", "attempt": 3}

    run_host(scenario)


def test_permanent_failure_and_fan_out(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        failed = await host.start_new("fails")
        fanned = await host.start_new("fan_out")
        status = await host.wait_for_completion(failed, 10)
        assert status and status["runtimeStatus"] == "Failed"
        assert "kaboom" in status["output"] and "Activity function 'boom' failed" in status["output"]
        # TaskFailed in the extension's shape (TaskActivityShim): the orchestrator tests replay this shape.
        async with aiohttp.ClientSession() as http:
            url = f"{host.base_url}/runtime/webhooks/durabletask/instances/{failed}"
            url += "?showHistory=true&showHistoryOutput=true"
            history = (await (await http.get(url)).json())["historyEvents"]
        (task_failed,) = [e for e in history if e["EventType"] == "TaskFailed"]
        assert task_failed["Reason"] == "Activity function 'boom' failed: RuntimeError: kaboom"
        assert "kaboom" in json.loads(task_failed["Details"])["Message"]
        status = await host.wait_for_completion(fanned, 10)
        assert status and status["output"] == 15

    run_host(scenario)


def test_raise_event_and_terminate_through_the_sdk_client(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        async with aiohttp.ClientSession() as http:
            first = await host.start_new("wait_event")
            second = await host.start_new("wait_event")
            resp = await http.post(f"{host.base_url}/api/events/{first}/approve", json={"by": "test"})
            assert resp.status == 202
            resp = await http.post(f"{host.base_url}/api/terminate/{second}")
            assert resp.status == 202
            done = await host.wait_for_completion(first, 10)
            assert done and done["output"] == {"approved": {"by": "test"}}
            ended = await host.wait_for_completion(second, 10)
            assert ended and ended["runtimeStatus"] == "Terminated" and ended["output"] == "by test"
            assert host.raise_event(first, "approve") == 410
            assert host.raise_event("unknown", "approve") == 404
            assert host.terminate(second) == 410

    run_host(scenario)


async def _drift_after_first_step(host: EmbeddedHost, monkeypatch: pytest.MonkeyPatch) -> str:
    """Start ``drifting`` as "drift", wait until its first step is recorded, then change its code under it."""
    iid = await host.start_new("drifting", instance_id="drift")
    for _ in range(200):
        status = host.get_status(iid, show_history=True)
        if status and any(e["EventType"] == "TaskCompleted" for e in status["historyEvents"]):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    monkeypatch.setenv("NONDET_MODE", "b")
    return iid


def _assert_non_deterministic(status: dict | None) -> None:
    assert status and status["runtimeStatus"] == "Failed"
    assert "Non-Deterministic" in status["output"] and "add_one" in status["output"]


def test_non_determinism_is_detected_at_the_next_episode_when_every_episode_replays(
    tmp_path: Path, marker_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_with_sessions(BASIC_APP, tmp_path / "app", enabled=False)

    async def main() -> None:
        async with EmbeddedHost(app, tmp_path / "data") as host:
            iid = await _drift_after_first_step(host, monkeypatch)
            host.raise_event(iid, "go")
            _assert_non_deterministic(await host.wait_for_completion(iid, 10))

    assert os.environ.get("NONDET_MODE") is None
    asyncio.run(main())


def test_with_sessions_non_determinism_is_detected_when_the_host_next_replays(
    run_host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kept executor does not run the changed code for steps already taken (as the extension's extended
    sessions); a restart (a deploy) replays the history in full, which finds the change."""
    data = tmp_path / "durable"

    async def begin(host: EmbeddedHost) -> str:
        return await _drift_after_first_step(host, monkeypatch)

    async def finish(host: EmbeddedHost) -> dict | None:
        host.raise_event("drift", "go")
        return await host.wait_for_completion("drift", 10)

    assert os.environ.get("NONDET_MODE") is None
    run_host(begin, data)
    _assert_non_deterministic(run_host(finish, data))


def test_restart_in_process_keeps_running_instances(run_host, tmp_path) -> None:
    data = tmp_path / "durable"

    async def begin(host: EmbeddedHost) -> str:
        iid = await host.start_new("wait_event", instance_id="survivor")
        await asyncio.sleep(0.05)
        return iid

    async def finish(host: EmbeddedHost) -> dict:
        assert host.raise_event("survivor", "approve", 7) == 202
        status = await host.wait_for_completion("survivor", 10)
        assert status is not None
        return status

    run_host(begin, data)
    assert run_host(finish, data)["output"] == {"approved": 7}
