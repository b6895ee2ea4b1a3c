"""The Durable HTTP API's instance list, purge and restart on the embedded host, in the extension's shapes."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import aiohttp
import pytest

from embedded_host import EmbeddedHost
from embedded_host.durable.queries import InstanceQuery, decode_token, encode_token, parse_time

WEBHOOKS = "/runtime/webhooks/durabletask"
TOKEN = "x-ms-continuation-token"


async def _finished(host: EmbeddedHost, name: str, instance_id: str, data: Any = None) -> None:
    await host.start_new(name, data, instance_id)
    status = await host.wait_for_completion(instance_id, 15)
    assert status and status["runtimeStatus"] in ("Completed", "Failed"), status


def _set_created(host: EmbeddedHost, instance_id: str, created: str) -> None:
    # Runs made in one test share a second: give them distinct creation times to filter on.
    with sqlite3.connect(host.db_path) as conn:
        conn.execute("UPDATE instances SET created_time = ? WHERE instance_id = ?", (created, instance_id))


def test_list_filters_and_pages_with_the_continuation_header(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        for i in range(7):
            await _finished(host, "sequence", f"seq-{i}", {"steps": 1})
            _set_created(host, f"seq-{i}", f"2026-01-01T00:00:0{i}Z")
        await _finished(host, "fails", "bad-1")
        _set_created(host, "bad-1", "2026-01-01T00:00:09Z")
        async with aiohttp.ClientSession(host.base_url) as http:
            seen: list[str] = []
            token = None
            pages = 0
            while True:
                headers = {TOKEN: token} if token else {}
                resp = await http.get(f"{WEBHOOKS}/instances", params={"top": "3"}, headers=headers)
                assert resp.status == 200 and TOKEN in resp.headers  # always sent, empty on the last page
                page = await resp.json()
                assert len(page) <= 3
                seen += [s["instanceId"] for s in page]
                pages += 1
                token = resp.headers[TOKEN]
                if not token:
                    break
            assert pages == 3
            assert seen == ["bad-1"] + [f"seq-{i}" for i in range(6, -1, -1)]  # newest first, each once
            assert set(page[0]) >= {
                "name",
                "instanceId",
                "runtimeStatus",
                "input",
                "output",
                "customStatus",
                "createdTime",
                "lastUpdatedTime",
            }

            resp = await http.get(f"{WEBHOOKS}/instances", params={"runtimeStatus": "Failed,Terminated"})
            assert [s["instanceId"] for s in await resp.json()] == ["bad-1"]
            resp = await http.get(f"{WEBHOOKS}/instances?runtimeStatus=Failed&runtimeStatus=Completed&top=100")
            assert len(await resp.json()) == 8
            resp = await http.get(f"{WEBHOOKS}/instances", params={"runtimeStatus": "NoSuchStatus"})
            assert len(await resp.json()) == 8  # unknown names are dropped, as the extension's enum parse does
            resp = await http.get(
                f"{WEBHOOKS}/instances",
                params={"createdTimeFrom": "2026-01-01T00:00:02Z", "createdTimeTo": "2026-01-01T00:00:04.000Z"},
            )
            assert [s["instanceId"] for s in await resp.json()] == ["seq-4", "seq-3", "seq-2"]
            resp = await http.get(f"{WEBHOOKS}/instances", params={"instanceIdPrefix": "seq-", "top": "2"})
            page = await resp.json()
            assert [s["instanceId"] for s in page] == ["seq-6", "seq-5"] and resp.headers[TOKEN]
            assert page[0]["input"] == {"steps": 1} and page[0]["output"] == [1]
            resp = await http.get(f"{WEBHOOKS}/instances", params={"instanceIdPrefix": "seq-", "showInput": "false"})
            assert all(s["input"] is None for s in await resp.json())
            resp = await http.get(f"{WEBHOOKS}/instances", params={"instanceIdPrefix": "s%"})
            assert await resp.json() == []  # a prefix is literal text, not a LIKE pattern
            # A token the host did not make starts the list over rather than failing.
            resp = await http.get(f"{WEBHOOKS}/instances", params={"top": "1"}, headers={TOKEN: "not-a-token!"})
            assert [s["instanceId"] for s in await resp.json()] == ["bad-1"]

    run_host(scenario)


def test_purge_one_and_by_filter(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        for i in range(3):
            await _finished(host, "sequence", f"p-{i}", {"steps": 1})
            _set_created(host, f"p-{i}", f"2026-02-01T00:00:0{i}Z")
        await host.start_new("wait_event", None, "waiting")
        async with aiohttp.ClientSession(host.base_url) as http:
            resp = await http.delete(f"{WEBHOOKS}/instances/waiting")
            assert resp.status == 412 and "terminal" in (await resp.json())["Message"]
            assert (await http.delete(f"{WEBHOOKS}/instances/nobody")).status == 404
            resp = await http.delete(f"{WEBHOOKS}/instances/p-0")
            assert resp.status == 200 and await resp.json() == {"instancesDeleted": 1}
            assert host.get_status("p-0") is None
            resp = await http.delete(f"{WEBHOOKS}/instances", params={"runtimeStatus": "Completed"})
            assert resp.status == 400 and "createdTimeFrom" in (await resp.json())["Message"]
            resp = await http.delete(
                f"{WEBHOOKS}/instances",
                params={"createdTimeFrom": "2026-02-01T00:00:00Z", "createdTimeTo": "2026-02-01T00:00:01Z"},
            )
            assert resp.status == 200 and await resp.json() == {"instancesDeleted": 1}
            assert host.get_status("p-1") is None and host.get_status("p-2") is not None
            # Naming the finished statuses keeps running instances out, as every tool of ours does.
            finished = {"createdTimeFrom": "2000-01-01T00:00:00Z", "runtimeStatus": "Completed,Failed,Terminated"}
            resp = await http.delete(f"{WEBHOOKS}/instances", params=finished)
            assert await resp.json() == {"instancesDeleted": 1}
            assert host.get_status("p-2") is None and host.get_status("waiting") is not None
            # nothing selected is a 404
            assert (await http.delete(f"{WEBHOOKS}/instances", params=finished)).status == 404
            assert host.terminate("waiting") == 202

    run_host(scenario)


@pytest.mark.parametrize("statuses", [None, "Running", "Running,Pending"])
def test_a_filtered_purge_without_a_finished_status_deletes_running_instances_as_azure_storage_does(
    run_host, statuses: str | None
) -> None:
    # DTFx's Azure Storage tracking store keeps only the terminal statuses of runtimeStatus and, with none
    # left, filters on no status: every instance in the window goes, running or not.
    async def scenario(host: EmbeddedHost) -> None:
        await _finished(host, "sequence", "done-1", {"steps": 1})
        await host.start_new("wait_event", None, "waiting")
        waiter = asyncio.ensure_future(host.client.wait_for_completion("waiting", 30))
        await asyncio.sleep(0.05)  # the waiter is registered before the purge
        params = {"createdTimeFrom": "2000-01-01T00:00:00Z", **({"runtimeStatus": statuses} if statuses else {})}
        async with aiohttp.ClientSession(host.base_url) as http:
            resp = await http.delete(f"{WEBHOOKS}/instances", params=params)
            assert resp.status == 200 and await resp.json() == {"instancesDeleted": 2}
            assert await asyncio.wait_for(waiter, 5) is None  # a client waiting on it learns at once it is gone
            assert host.get_status("waiting") is None and host.get_status("done-1") is None
            assert (await http.post(f"{WEBHOOKS}/instances/waiting/raiseEvent/go", json=1)).status == 404
        # the engine carries on: the id can be started again and runs to the end
        await host.start_new("sequence", {"steps": 1}, "waiting")
        status = await host.wait_for_completion("waiting", 15)
        assert status and status["runtimeStatus"] == "Completed"

    run_host(scenario)


def test_restart_starts_the_same_input_again(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        await _finished(host, "sequence", "r-1", {"steps": 2})
        await host.start_new("wait_event", None, "r-running")
        async with aiohttp.ClientSession(host.base_url) as http:
            resp = await http.post(f"{WEBHOOKS}/instances/r-1/restart")
            assert resp.status == 202
            links = await resp.json()
            assert links["id"] != "r-1" and resp.headers["Location"] == links["statusQueryGetUri"]
            status = await host.wait_for_completion(links["id"], 15)
            assert status and status["runtimeStatus"] == "Completed" and status["input"] == {"steps": 2}
            resp = await http.post(f"{WEBHOOKS}/instances/r-1/restart?restartWithNewInstanceId=false")
            assert resp.status == 202 and (await resp.json())["id"] == "r-1"
            assert (await host.wait_for_completion("r-1", 15) or {})["runtimeStatus"] == "Completed"
            resp = await http.post(f"{WEBHOOKS}/instances/r-running/restart?restartWithNewInstanceId=false")
            assert resp.status == 409
            resp = await http.post(f"{WEBHOOKS}/instances/nobody/restart")
            assert resp.status == 400 and "valid orchestration" in (await resp.json())["Message"]
            assert host.terminate("r-running") == 202

    run_host(scenario)


def test_query_parsing_matches_the_extension() -> None:
    q = InstanceQuery.from_request(
        {"top": "0", "showInput": "FALSE", "createdTimeFrom": "garbage"}, ["Running,Bogus", "Failed"]
    )
    assert q.statuses == ("Running", "Failed") and q.top == 100 and q.show_input is False
    assert q.created_from is None
    assert InstanceQuery.from_request({"top": "5000"}).top == 1000
    assert parse_time("2026-03-04T05:06:07.890+01:00") == "2026-03-04T04:06:07Z"
    assert parse_time("2026-03-04T05:06:07") == "2026-03-04T05:06:07Z"
    assert decode_token(encode_token("2026-01-01T00:00:00Z", "a/b")) == ("2026-01-01T00:00:00Z", "a/b")
    assert decode_token("") is None and decode_token("W10") is None


@pytest.mark.parametrize("top", ["1", "4", "10"])
def test_every_instance_once_at_any_page_size(run_host, top: str) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        for i in range(5):
            await _finished(host, "sequence", f"x-{i}", {"steps": 1})  # several share one created second
        async with aiohttp.ClientSession(host.base_url) as http:
            ids: list[str] = []
            token = ""
            for _ in range(10):
                resp = await http.get(
                    f"{WEBHOOKS}/instances", params={"top": top}, headers={TOKEN: token} if token else {}
                )
                ids += [s["instanceId"] for s in await resp.json()]
                token = resp.headers[TOKEN]
                if not token:
                    break
            assert sorted(ids) == [f"x-{i}" for i in range(5)]

    run_host(scenario)
