"""Durable entities on the embedded host: the wire shapes the SDK reads, orchestrator calls and signals, the
client's HTTP routes, atomic batches, and the start-up refusal of what the host cannot run."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from embedded_host import EmbeddedHost, HostConfigError
from embedded_host.durable.actions import EngineState, plan_actions
from embedded_host.durable.entities import EntityHost, check_entities
from embedded_host.durable.entity_protocol import event_sent, scheduler_id, split_scheduler_id
from embedded_host.durable.history import EventType
from embedded_host.durable.store import connect
from embedded_host.host import _load_once
from embedded_host.web.entity_api import BadOperationInput, operation_input

CONFORMANCE_APP = Path(__file__).resolve().parents[1] / "conformance" / "app"
ENTITIES = "/runtime/webhooks/durabletask/entities"


# -- wire shapes -------------------------------------------------------------------------------------------------
def test_scheduler_ids_are_the_sdks() -> None:
    assert scheduler_id("Counter", "a@b") == "@counter@a@b"
    assert split_scheduler_id("@counter@a@b") == ("counter", "a@b")
    with pytest.raises(ValueError):
        split_scheduler_id("counter")


def test_event_sent_carries_a_request_message() -> None:
    call = {"actionType": 7, "instanceId": "@counter@k", "operation": "add", "input": "5"}
    ev = event_sent(3, call, instance_id="orch", stamp="2026-01-01T00:00:00Z", signal=False)
    assert (ev["EventType"], ev["EventId"], ev["InstanceId"], ev["Name"]) == (
        EventType.EventSent,
        3,
        "@counter@k",
        "op",
    )
    message = json.loads(ev["Input"])
    # the SDK's JSON text, serialized once more by RequestMessage.SetInput
    assert message["input"] == '"5"' and message["op"] == "add" and message["parent"] == "orch"
    assert "signal" not in message and message["id"]
    signal = json.loads(event_sent(4, {**call, "actionType": 9}, instance_id="orch", stamp="t", signal=True)["Input"])
    assert signal["signal"] is True and "parent" not in signal


def test_entity_actions_draw_ids_in_order() -> None:
    state = EngineState()
    actions = [
        {"actionType": 9, "instanceId": "@counter@k", "operation": "add", "input": "1"},
        {"actionType": 0, "functionName": "work", "input": None},
        {"actionType": 7, "instanceId": "@counter@k", "operation": "get", "input": "null"},
    ]
    plan = plan_actions(state, actions)
    assert [task_id for task_id, _ in plan.entity_messages] == [0, 2]
    assert [task_id for task_id, _, _ in plan.activities] == [1]
    assert plan_actions(state, actions).entity_messages == []  # replayed: nothing new


@pytest.mark.parametrize(
    ("body", "media", "expected"),
    [
        (b'"\\"5\\""', "application/json", '"\\"5\\""'),  # the SDK client's double-encoded input
        (b'{"a": 1}', "application/json", '{"a":1}'),
        (b"hello", "text/plain", '"hello"'),
        (b"", "application/json", None),
    ],
)
def test_operation_input_as_the_extension_stores_it(body: bytes, media: str, expected: str | None) -> None:
    assert operation_input(body, media) == expected


def test_operation_input_rejects_bad_json() -> None:
    with pytest.raises(BadOperationInput, match="Could not parse JSON content"):
        operation_input(b"{nope", "application/json")


# -- batches -----------------------------------------------------------------------------------------------------
def _entity_host(tmp_path: Path) -> tuple[EntityHost, sqlite3.Connection]:
    conn = connect(tmp_path / "state.db")
    return EntityHost(check_entities(_load_once(CONFORMANCE_APP)), conn, lambda: None), conn


def _call(operation: str, value: Any, request_id: str, key: str = "k") -> dict[str, Any]:
    action = {"instanceId": scheduler_id("Counter", key), "operation": operation, "input": json.dumps(value)}
    ev = event_sent(0, action, instance_id="orch", stamp="t", signal=False)
    message = json.loads(ev["Input"])
    message["id"] = request_id
    ev["Input"] = json.dumps(message)
    return ev


def test_a_batch_commits_state_answers_and_removal_together(tmp_path: Path) -> None:
    entities, conn = _entity_host(tmp_path)
    for n in range(3):
        entities.send(_call("add", 1, f"r{n}"))

    def crash(_instance: str, _ev: dict[str, Any]) -> None:
        raise RuntimeError("killed while answering")

    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(RuntimeError):
        entities.run(crash)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT COUNT(*) FROM entity_requests").fetchone()[0] == 3
    assert entities.read("Counter", "k") is None

    entities.recover()
    answers: list[tuple[str, dict[str, Any]]] = []
    conn.execute("BEGIN IMMEDIATE")
    entities.run(lambda instance, ev: answers.append((instance, ev)))
    conn.execute("COMMIT")
    assert entities.read("Counter", "k") == "3"
    assert conn.execute("SELECT COUNT(*) FROM entity_requests").fetchone()[0] == 0
    assert [(i, ev["Name"], json.loads(ev["Input"])) for i, ev in answers] == [
        ("orch", "r0", {"result": "1"}),
        ("orch", "r1", {"result": "2"}),
        ("orch", "r2", {"result": "3"}),
    ]


def test_failed_operations_and_unknown_entities_answer_with_an_exception(tmp_path: Path) -> None:
    entities, _conn = _entity_host(tmp_path)
    entities.send(_call("fail", None, "bad"))
    ev = _call("get", None, "nobody")
    ev["InstanceId"] = "@nope@k"
    entities.send(ev)
    answers: dict[str, dict[str, Any]] = {}
    entities.run(lambda _instance, answer: answers.update({answer["Name"]: json.loads(answer["Input"])}))
    assert answers["bad"] == {"result": json.dumps("counter k refuses"), "exceptionType": "Error"}
    assert answers["nobody"]["exceptionType"] == "Error"
    assert "'nope' doesn't exist" in json.loads(answers["nobody"]["result"])


# -- through the host --------------------------------------------------------------------------------------------
def _run(tmp_path: Path, scenario: Any) -> Any:
    async def main() -> Any:
        async with EmbeddedHost(CONFORMANCE_APP, tmp_path / "data") as host:
            return await scenario(host)

    return asyncio.run(main())


def test_an_orchestrator_signals_and_calls_an_entity(tmp_path: Path) -> None:
    async def scenario(host: EmbeddedHost) -> dict[str, Any]:
        iid = await host.start_new("counter_workflow", {"key": "k1", "signals": 3, "calls": 4})
        await host.wait_for_completion(iid, 10)
        status = host.get_status(iid, show_history=True)
        assert status is not None
        return status

    status = _run(tmp_path, scenario)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == {"seen": [4, 5, 6, 7], "error": "counter k1 refuses", "final": 7}
    events = status["historyEvents"]
    sent = [e for e in events if e["EventType"] == "EventSent"]
    assert [e["EventId"] for e in sent] == list(range(9))  # 3 signals, 4 adds, fail, get
    assert {e["InstanceId"] for e in sent} == {"@counter@k1"} and {e["Name"] for e in sent} == {"op"}
    calls = [e["Input"]["id"] for e in sent if not e["Input"].get("signal")]
    answers = [e["Name"] for e in events if e["EventType"] == "EventRaised"]
    assert answers == calls  # every call answered once, by its request id


def test_signals_of_an_episode_that_continues_as_new_are_sent(tmp_path: Path) -> None:
    async def scenario(host: EmbeddedHost) -> Any:
        iid = await host.start_new("counter_rounds", {"key": "r", "rounds": 3})
        status = await host.wait_for_completion(iid, 10)
        assert status is not None and status["runtimeStatus"] == "Completed", status
        for _ in range(100):
            if host.client.entities.read("Counter", "r") == "3":
                break
            await asyncio.sleep(0.02)
        return host.client.entities.read("Counter", "r")

    assert _run(tmp_path, scenario) == "3"


def test_sending_to_an_entity_no_function_serves_fails_the_orchestration(tmp_path: Path) -> None:
    async def scenario(host: EmbeddedHost) -> dict[str, Any] | None:
        iid = await host.start_new("counter_workflow", {"entity": "Nope", "key": "k", "signals": 1, "calls": 0})
        return await host.wait_for_completion(iid, 10)

    status = _run(tmp_path, scenario)
    assert status is not None and status["runtimeStatus"] == "Failed"
    assert "The function 'nope' doesn't exist, is disabled, or is not an entity function" in status["output"]


async def _http(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with session.request(method, url, **kwargs) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


def test_the_sdk_client_signals_and_reads_state(tmp_path: Path) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        base = host.base_url
        async with aiohttp.ClientSession() as s:
            assert await _http(s, "GET", f"{base}/api/counters/c") == (200, {"exists": False, "state": None})
            assert (await _http(s, "POST", f"{base}/api/counters/c?op=add&value=5&times=3"))[0] == 202
            for _ in range(100):
                if (await _http(s, "GET", f"{base}/api/counters/c"))[1]["state"] == 15:
                    break
                await asyncio.sleep(0.02)
            assert await _http(s, "GET", f"{base}/api/counters/c") == (200, {"exists": True, "state": 15})
            assert await _http(s, "GET", f"{base}{ENTITIES}/Counter/c") == (200, 15)
            assert (await _http(s, "GET", f"{base}{ENTITIES}/Counter/other"))[0] == 404
            status, body = await _http(s, "POST", f"{base}{ENTITIES}/nope/c?op=add")
            assert status == 400 and "'nope' doesn't exist" in body["Message"]
            status, body = await _http(
                s,
                "POST",
                f"{base}{ENTITIES}/Counter/c?op=add",
                data=b"{x",
                headers={"Content-Type": "application/json"},
            )
            assert status == 400 and body["Message"].startswith("Could not parse JSON content")
            assert (await _http(s, "GET", f"{base}{ENTITIES}/Counter"))[0] == 501
            assert (await _http(s, "DELETE", f"{base}{ENTITIES}/Counter/c"))[0] == 202
            for _ in range(100):
                if (await _http(s, "GET", f"{base}{ENTITIES}/Counter/c"))[0] == 404:
                    break
                await asyncio.sleep(0.02)
            assert (await _http(s, "GET", f"{base}{ENTITIES}/Counter/c"))[0] == 404

    _run(tmp_path, scenario)


def test_entity_state_outlives_the_host(tmp_path: Path) -> None:
    async def first(host: EmbeddedHost) -> None:
        iid = await host.start_new("counter_workflow", {"key": "p", "signals": 0, "calls": 2})
        await host.wait_for_completion(iid, 10)

    async def second(host: EmbeddedHost) -> Any:
        iid = await host.start_new("counter_workflow", {"key": "p", "signals": 0, "calls": 1})
        return (await host.wait_for_completion(iid, 10) or {}).get("output")

    _run(tmp_path, first)
    assert _run(tmp_path, second) == {"seen": [3], "error": "counter p refuses", "final": 3}


# -- refusals ----------------------------------------------------------------------------------------------------
def test_an_async_entity_function_is_refused_at_start_up(tmp_path: Path) -> None:
    app = tmp_path / "async_entity_app"
    app.mkdir()
    (app / "host.json").write_text('{"version": "2.0"}')
    (app / "function_app.py").write_text(
        "import azure.durable_functions as df\n"
        "app = df.DFApp()\n"
        "@app.entity_trigger(context_name='context')\n"
        "async def Tally(context):\n"
        "    context.set_state(1)\n"
    )

    async def main() -> None:
        async with EmbeddedHost(app, tmp_path / "data"):
            pass

    with pytest.raises(HostConfigError, match="entity function 'Tally' is async"):
        asyncio.run(main())
