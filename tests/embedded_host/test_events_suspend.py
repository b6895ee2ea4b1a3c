"""Raise-event payloads, buffered events, and suspend/resume on the embedded host, in the extension's shapes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from embedded_host import EmbeddedHost

WEBHOOKS = "/runtime/webhooks/durabletask"
JSON = {"Content-Type": "application/json"}


async def _until(host: EmbeddedHost, instance_id: str, status: str, timeout: float = 10) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = host.get_status(instance_id, show_history=True)
        if current and current["runtimeStatus"] == status:
            return current
        assert asyncio.get_running_loop().time() < deadline, current
        await asyncio.sleep(0.02)


def _kinds(status: dict[str, Any]) -> list[str]:
    return [e["EventType"] for e in status["historyEvents"]]


PAYLOADS: list[tuple[str, bytes, Any]] = [
    ("text", b'"alice"', "alice"),
    ("object", b'{"a": [1, 2], "b": null}', {"a": [1, 2], "b": None}),
    ("number", b"42", 42),
    ("list", b'[1, "x"]', [1, "x"]),
    ("flag", b"true", True),
    ("null", b"null", None),
    ("empty", b"", None),
    ("quoted", b'"\\"alice\\""', '"alice"'),  # a JSON string holding quotes stays that string on the public API
]


def test_public_raise_event_takes_any_json_body_and_buffers_early_events(run_host) -> None:
    names = [name for name, _, _ in PAYLOADS]

    async def scenario(host: EmbeddedHost) -> None:
        async with aiohttp.ClientSession(host.base_url) as http:
            resp = await http.post("/api/start/collect_events?id=ev-1", json={"names": names})
            urls = await resp.json()
            # Last first: every event but the last-raised arrives before the orchestrator waits for it.
            for name, body, _ in reversed(PAYLOADS):
                resp = await http.post(urls["sendEventPostUri"].replace("{eventName}", name), data=body, headers=JSON)
                assert resp.status == 202, (name, await resp.text())
            status = await host.wait_for_completion("ev-1", 15)
            assert status and status["runtimeStatus"] == "Completed", status
            assert status["output"] == [value for _, _, value in PAYLOADS]
            history = host.get_status("ev-1", show_history=True)["historyEvents"]
            raised = [e["Input"] for e in history if e["EventType"] == "EventRaised"]
            assert raised == [value for _, _, value in reversed(PAYLOADS)]  # recorded in arrival order

    run_host(scenario)


def test_public_raise_event_rejects_what_the_extension_rejects(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        await host.start_new("collect_events", {"names": ["a"]}, "ev-2")
        async with aiohttp.ClientSession(host.base_url) as http:
            url = f"{WEBHOOKS}/instances/ev-2/raiseEvent/a"
            resp = await http.post(url, data=b"alice", headers={"Content-Type": "text/plain"})
            assert resp.status == 400
            assert (await resp.json())["Message"] == "Only application/json request content is supported"
            resp = await http.post(url)  # no body, no content type: the media type is checked first
            assert resp.status == 400
            resp = await http.post(url, data=b"{not json", headers=JSON)
            assert resp.status == 400 and (await resp.json())["Message"] == "Invalid JSON content"
            resp = await http.post(f"{WEBHOOKS}/instances/nobody/raiseEvent/a", data=b"1", headers=JSON)
            assert resp.status == 404
            assert host.get_status("ev-2")["runtimeStatus"] in ("Pending", "Running")  # nothing was delivered
            resp = await http.post(url, data=b'{"ok": 1}', headers=JSON)
            assert resp.status == 202
            status = await host.wait_for_completion("ev-2", 15)
            assert status["output"] == [{"ok": 1}]
            resp = await http.post(url, data=b"1", headers=JSON)
            assert resp.status == 410  # finished

    run_host(scenario)


def test_sdk_client_raise_event_delivers_the_value_it_was_given(run_host) -> None:
    values: list[Any] = ["alice", {"a": 1}, [1, 2], 7, None, "not json {"]
    names = [f"e{i}" for i in range(len(values))]

    async def scenario(host: EmbeddedHost) -> None:
        await host.start_new("collect_events", {"names": names}, "ev-3")
        async with aiohttp.ClientSession(host.base_url) as http:
            for name, value in zip(names, values, strict=True):
                resp = await http.post(f"/api/events/ev-3/{name}", data=json.dumps(value), headers=JSON)
                assert resp.status == 202, await resp.text()
        status = await host.wait_for_completion("ev-3", 15)
        assert status and status["output"] == values, status

    run_host(scenario)


def test_suspend_holds_timers_and_events_until_resume(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        async with aiohttp.ClientSession(host.base_url) as http:
            resp = await http.post("/api/start/timer_then_event?id=sus-1", json={"ms": 300})
            urls = await resp.json()
            await _until(host, "sus-1", "Running")
            resp = await http.post(urls["suspendPostUri"].replace("{text}", "hold+on"))
            assert resp.status == 202
            await _until(host, "sus-1", "Suspended")
            resp = await http.post(urls["sendEventPostUri"].replace("{eventName}", "go"), data=b'"yes"', headers=JSON)
            assert resp.status == 202  # accepted and held
            await asyncio.sleep(0.6)  # the timer is due meanwhile
            resp = await http.get(urls["statusQueryGetUri"])
            assert resp.status == 202 and (await resp.json())["runtimeStatus"] == "Suspended"
            held = host.get_status("sus-1", show_history=True)
            assert "TimerFired" not in _kinds(held) and "EventRaised" not in _kinds(held)
            suspended = [e for e in held["historyEvents"] if e["EventType"] == "ExecutionSuspended"]
            assert len(suspended) == 1 and suspended[0]["Reason"] == "hold on"
            resp = await http.post(urls["suspendPostUri"].replace("{text}", "again"))
            assert resp.status == 202  # suspending a suspended instance changes nothing
            resp = await http.post(urls["resumePostUri"].replace("{text}", "go+on"))
            assert resp.status == 202
            status = await host.wait_for_completion("sus-1", 15)
            assert status and status["runtimeStatus"] == "Completed", status
            assert status["output"] == {"event": "yes", "step": 2}
            kinds = _kinds(host.get_status("sus-1", show_history=True))
            assert kinds.count("ExecutionSuspended") == 1 and kinds.count("ExecutionResumed") == 1
            resumed_at = kinds.index("ExecutionResumed")
            assert kinds.index("ExecutionSuspended") < resumed_at < kinds.index("TimerFired")
            assert resumed_at < kinds.index("EventRaised")
            resp = await http.post(urls["suspendPostUri"].replace("{text}", "late"))
            assert resp.status == 410
            resp = await http.post(f"{WEBHOOKS}/instances/nobody/suspend")
            assert resp.status == 404

    run_host(scenario)


def test_sdk_client_suspend_resume_and_terminate_while_suspended(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        await host.start_new("collect_events", {"names": ["a"]}, "sus-2")
        await host.start_new("collect_events", {"names": ["a"]}, "sus-3")
        await _until(host, "sus-2", "Running")
        await _until(host, "sus-3", "Running")
        async with aiohttp.ClientSession(host.base_url) as http:
            for iid in ("sus-2", "sus-3"):
                resp = await http.post(f"/api/suspend/{iid}")
                assert resp.status == 202, await resp.text()
                await _until(host, iid, "Suspended")
                assert host.raise_event(iid, "a", {"n": iid}) == 202
            resp = await http.post("/api/resume/sus-2")
            assert resp.status == 202, await resp.text()
            resp = await http.post("/api/terminate/sus-3")
            assert resp.status == 202
        done = await host.wait_for_completion("sus-2", 15)
        assert done and done["runtimeStatus"] == "Completed" and done["output"] == [{"n": "sus-2"}]
        ended = await host.wait_for_completion("sus-3", 15)
        assert ended and ended["runtimeStatus"] == "Terminated"
        assert "EventRaised" not in _kinds(host.get_status("sus-3", show_history=True))

    run_host(scenario)


def test_a_suspended_and_resumed_history_replays_cleanly(run_host) -> None:
    from embedded_host.durable.checker import check_recording
    from embedded_host.durable.episode import handle_of
    from embedded_host.durable.recorded import read_recording

    async def scenario(host: EmbeddedHost) -> tuple[dict[str, Any], Any]:
        await host.start_new("timer_then_event", {"ms": 100}, "sus-4")
        await _until(host, "sus-4", "Running")
        assert host.client.suspend("sus-4", "check") == 202
        await _until(host, "sus-4", "Suspended")
        host.raise_event("sus-4", "go", [1])
        await asyncio.sleep(0.2)
        assert host.client.resume("sus-4", "check") == 202
        assert (await host.wait_for_completion("sus-4", 10))["runtimeStatus"] == "Completed"
        spec = host.app.functions["timer_then_event"]
        full = host.client.get_status("sus-4", show_history=True, show_history_output=True)
        return full, handle_of(spec.func, spec.trigger_name)

    status, handle = run_host(scenario)
    report = check_recording(read_recording(status), handle, source="suspended")
    assert report.ok, report.line()
