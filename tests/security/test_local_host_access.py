"""The embedded host against a browser and a network: DNS rebinding (a foreign Host), cross-site state changes
(a foreign Origin), and keyless calls when it listens beyond loopback.

Each test runs a real host on the basic test app and talks to it over its socket, always through 127.0.0.1
(a host bound to 0.0.0.0 is reached there too: no traffic leaves this machine).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from embedded_host import EmbeddedHost, HostConfigError
from embedded_host.web.access import AccessPolicy
from embedded_host.web.keys import KEYS_FILE
from tests.embedded_host.conftest import BASIC_APP

EVIL = "http://evil.example"
WEBHOOKS = "/runtime/webhooks/durabletask"

Scenario = Callable[[EmbeddedHost, httpx.AsyncClient], Awaitable[Any]]


@pytest.fixture
def hosted(tmp_path: Path, marker_dir: Path) -> Callable[..., Any]:
    """Run ``scenario(host, http)`` on a started host (``http`` has the host's base URL)."""

    def run(scenario: Scenario, **options: Any) -> Any:
        async def main() -> Any:
            async with (
                EmbeddedHost(BASIC_APP, tmp_path / "data", **options) as host,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{host.port}", timeout=10) as http,
            ):
                return await scenario(host, http)

        return asyncio.run(main())

    return run


def _is_problem(response: httpx.Response, status: int) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"].startswith("application/problem+json")
        and response.json()["status"] == status
    )


# -- DNS rebinding: the Host allow-list ---------------------------------------------------------------------


def test_a_foreign_host_name_reads_nothing(hosted: Callable[..., Any]) -> None:
    async def scenario(host: EmbeddedHost, http: httpx.AsyncClient) -> None:
        iid = await host.start_new("sequence", {"steps": 1})
        await host.wait_for_completion(iid, 10)
        foreign = {"Host": f"evil.example:{host.port}"}
        for path in (f"{WEBHOOKS}/instances", f"{WEBHOOKS}/instances/{iid}", f"/api/status/{iid}"):
            response = await http.get(path, headers=foreign)
            assert _is_problem(response, 421), path
            assert iid not in response.text
        # The loopback RPC listener the SDK calls is no way round it.
        rpc = await http.get(f"{host.rpc_base_url}/durabletask/instances", headers=foreign)
        assert _is_problem(rpc, 421)
        for name in ("localhost", "LOCALHOST.", "127.0.0.1", "[::1]", "127.0.0.2"):
            response = await http.get(f"{WEBHOOKS}/instances/{iid}", headers={"Host": f"{name}:{host.port}"})
            assert response.status_code == 200, name
        for name in ("127.0.0.1.nip.io", "localhost.evil.example", "10.1.2.3", "[::1", "a:b:c", ""):
            response = await http.get(f"{WEBHOOKS}/instances/{iid}", headers={"Host": name})
            assert response.status_code == 421, name

    hosted(scenario)


def test_host_names_the_user_allows_are_answered(hosted: Callable[..., Any]) -> None:
    async def scenario(host: EmbeddedHost, http: httpx.AsyncClient) -> None:
        allowed = await http.get("/api/status/none", headers={"Host": f"Pipeline.Test:{host.port}"})
        other = await http.get("/api/status/none", headers={"Host": f"other.test:{host.port}"})
        return allowed.status_code, other.status_code

    assert hosted(scenario, allowed_hosts=["pipeline.test"]) == (404, 421)


def test_bound_to_every_interface_any_address_literal_is_answered_but_no_unknown_name() -> None:
    policy = AccessPolicy.create("0.0.0.0", [], None)
    assert policy.host_allowed("192.168.1.20:7071") and policy.host_allowed("[fe80::1]:7071")
    assert not policy.host_allowed("evil.example:7071") and not policy.host_allowed(None)
    named = AccessPolicy.create("build-box.lan", [], None)
    assert named.host_allowed("build-box.lan:7071") and not named.host_allowed("192.168.1.20:7071")


# -- Cross-site requests: the Origin check --------------------------------------------------------------------


async def _cross_site(http: httpx.AsyncClient, method: str, path: str, origin: str) -> httpx.Response:
    # What a page can send without a preflight: a text/plain body (or none), the browser adding Origin.
    return await http.request(method, path, content=b"{}", headers={"Origin": origin, "Content-Type": "text/plain"})


def test_a_cross_site_terminate_raise_event_or_purge_changes_nothing(hosted: Callable[..., Any]) -> None:
    async def scenario(host: EmbeddedHost, http: httpx.AsyncClient) -> None:
        waiting = await host.start_new("wait_event", instance_id="waiting")
        done = await host.start_new("sequence", {"steps": 1}, instance_id="done")
        await host.wait_for_completion(done, 10)
        attempts = [
            ("POST", f"{WEBHOOKS}/instances/{waiting}/terminate?reason=x"),
            ("POST", f"{WEBHOOKS}/instances/{waiting}/raiseEvent/approve"),
            ("DELETE", f"{WEBHOOKS}/instances/{done}"),
            ("POST", f"{WEBHOOKS}/orchestrators/sequence"),
            ("POST", f"/api/terminate/{waiting}"),
            ("PUT", "/api/echo"),
        ]
        for origin in (EVIL, "null", f"http://localhost:{host.port + 1}", f"http://127.0.0.1.nip.io:{host.port}"):
            for method, path in attempts:
                response = await _cross_site(http, method, path, origin)
                assert _is_problem(response, 403), (origin, method, path)
        assert host.get_status(waiting)["runtimeStatus"] == "Running"
        assert host.get_status(done)["runtimeStatus"] == "Completed"
        listed = (await http.get(f"{WEBHOOKS}/instances")).json()
        assert {s["instanceId"] for s in listed} == {"done", "waiting"}
        # The host's own origin (a same-origin page such as the monitor) may change state.
        own = f"http://127.0.0.1:{host.port}"
        raised = await http.post(
            f"{WEBHOOKS}/instances/{waiting}/raiseEvent/approve", json={"ok": True}, headers={"Origin": own}
        )
        assert raised.status_code == 202
        assert (await host.wait_for_completion(waiting, 10))["output"] == {"approved": {"ok": True}}
        purged = await http.delete(f"{WEBHOOKS}/instances/{done}", headers={"Origin": own})
        assert purged.status_code == 200 and host.get_status(done) is None
        # Reading with a foreign Origin is the browser's business (no CORS header: the page cannot read it).
        read = await http.get(f"{WEBHOOKS}/instances/{waiting}", headers={"Origin": EVIL})
        assert read.status_code == 200 and not _cors_headers(read)

    hosted(scenario)


def _cors_headers(response: httpx.Response) -> list[str]:
    return [name for name in response.headers if name.lower().startswith("access-control-")]


def test_no_preflight_is_granted(hosted: Callable[..., Any]) -> None:
    async def scenario(host: EmbeddedHost, http: httpx.AsyncClient) -> None:
        for path in (f"{WEBHOOKS}/instances/x", "/api/echo", "/api/start/sequence"):
            response = await http.options(
                path,
                headers={
                    "Origin": EVIL,
                    "Access-Control-Request-Method": "DELETE",
                    "Access-Control-Request-Headers": "content-type",
                },
            )
            assert response.status_code >= 400 and not _cors_headers(response), path

    hosted(scenario)


# -- Keys beyond loopback -------------------------------------------------------------------------------------


def test_beyond_loopback_function_admin_and_durable_routes_need_their_key(hosted: Callable[..., Any]) -> None:
    async def scenario(host: EmbeddedHost, http: httpx.AsyncClient) -> None:
        assert host.keys is not None and host.keys_created
        keys = host.keys
        iid = await host.start_new("sequence", {"steps": 1})
        await host.wait_for_completion(iid, 10)
        keyless = [
            ("GET", f"{WEBHOOKS}/instances"),
            ("GET", f"{WEBHOOKS}/instances/{iid}"),
            ("DELETE", f"{WEBHOOKS}/instances/{iid}"),
            ("POST", f"{WEBHOOKS}/instances/{iid}/terminate"),
            ("POST", f"{WEBHOOKS}/orchestrators/sequence"),
            ("GET", "/api/keyed/echo"),
            ("GET", "/api/admin/ping"),
        ]
        for method, path in keyless:
            response = await http.request(method, path)
            assert _is_problem(response, 401), (method, path)
            assert iid not in response.text
        wrong = await http.get(f"{WEBHOOKS}/instances", params={"code": keys.function})
        assert wrong.status_code == 401  # a function key does not open the Durable API
        for durable_key in (keys.durable_system, keys.master):
            listed = await http.get(f"{WEBHOOKS}/instances", params={"code": durable_key})
            assert listed.status_code == 200 and listed.json()[0]["instanceId"] == iid
            by_header = await http.get(f"{WEBHOOKS}/instances/{iid}", headers={"x-functions-key": durable_key})
            assert by_header.status_code == 200
        assert (await http.get("/api/admin/ping", headers={"x-functions-key": keys.function})).status_code == 401
        assert (await http.get("/api/admin/ping", headers={"x-functions-key": keys.master})).text == "pong"
        assert (await http.get("/api/keyed/echo", params={"code": keys.durable_system})).status_code == 401
        # Anonymous routes stay open, as on Azure.
        assert (await http.get(f"/api/status/{iid}")).status_code == 200
        # The public listener does not serve the keyless RPC API the SDK uses; that one is on loopback only.
        assert (await http.get("/durabletask/instances")).status_code == 404
        assert host.rpc_base_url.startswith("http://127.0.0.1:")

    hosted(scenario, host="0.0.0.0")


def test_the_function_never_sees_the_key(hosted: Callable[..., Any]) -> None:
    async def scenario(host: EmbeddedHost, http: httpx.AsyncClient) -> dict[str, Any]:
        assert host.keys is not None
        response = await http.get(
            "/api/keyed/echo", params={"code": host.keys.function, "x": "1"}, headers={"x-functions-key": "ignored"}
        )
        assert response.status_code == 401  # the header wins, and "ignored" is no key
        response = await http.get("/api/keyed/echo", params={"code": host.keys.function, "x": "1"})
        assert response.status_code == 200
        seen = response.json()
        assert host.keys.function not in json.dumps(seen)
        return seen

    seen = hosted(scenario, host="0.0.0.0")
    assert seen["q"] == {"x": "1"} and "code=" not in seen["url"] and "x-functions-key" not in seen["headers"]


def test_status_urls_carry_the_key_they_need(hosted: Callable[..., Any]) -> None:
    async def scenario(host: EmbeddedHost, http: httpx.AsyncClient) -> None:
        assert host.keys is not None
        started = await http.post("/api/start/sequence", json={"steps": 2})  # an anonymous starter
        assert started.status_code == 202
        links = started.json()
        assert started.headers["Location"] == links["statusQueryGetUri"]
        for name in ("statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"):
            assert f"code={host.keys.durable_system}" in links[name], name
        await host.wait_for_completion(links["id"], 10)
        # The URL as handed out works as it is, through the same public listener.
        status = await http.get(links["statusQueryGetUri"].replace(host.base_url, ""))
        assert status.status_code == 200 and status.json()["output"] == [1, 2]

    hosted(scenario, host="0.0.0.0")


def test_on_loopback_no_key_is_asked_and_none_is_written(hosted: Callable[..., Any], tmp_path: Path) -> None:
    async def scenario(host: EmbeddedHost, http: httpx.AsyncClient) -> None:
        assert host.keys is None
        assert (await http.get("/api/keyed/echo")).status_code == 200
        assert (await http.get(f"{WEBHOOKS}/instances")).status_code == 200
        started = await http.post("/api/start/sequence", json={"steps": 1})
        assert "code=" not in started.json()["statusQueryGetUri"]

    hosted(scenario)
    assert not (tmp_path / "data" / KEYS_FILE).exists()


def test_keys_are_generated_once_owner_only_and_kept(hosted: Callable[..., Any], tmp_path: Path) -> None:
    async def scenario(host: EmbeddedHost, http: httpx.AsyncClient) -> tuple[Any, bool]:
        return host.keys, host.keys_created

    first, created = hosted(scenario, host="0.0.0.0")
    path = tmp_path / "data" / KEYS_FILE
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len({first.master, first.function, first.durable_system}) == 3
    os.chmod(path, 0o644)  # a copy made readable by others is tightened again
    again, created = hosted(scenario, host="0.0.0.0")
    assert again == first and not created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_keys_file_is_a_clear_startup_error(hosted: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "data" / KEYS_FILE
    path.parent.mkdir(parents=True)
    path.write_text('{"masterKey": "secret-value-7c2"}')
    with pytest.raises(HostConfigError) as caught:
        hosted(lambda host, http: asyncio.sleep(0), host="0.0.0.0")
    assert KEYS_FILE in str(caught.value) and "secret-value-7c2" not in str(caught.value)
