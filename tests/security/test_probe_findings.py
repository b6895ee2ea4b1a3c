"""The local host against the exact requests of a probe (issue 26): each once leaked a key or a path, forged
a log line, crashed a handler with a 500, or held a connection open forever.

Requests go over raw sockets where a client library would refuse or fix what the probe sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from embedded_host import EmbeddedHost
from tests.embedded_host.conftest import BASIC_APP

DURABLE = "/runtime/webhooks/durabletask"
SECRET = "SECRETKEY0123456789"


@pytest.fixture
def on_host(tmp_path: Path, marker_dir: Path) -> Callable[..., Any]:
    """Run ``scenario(host)`` on a started host of the basic app (``bind``: the address it listens on)."""

    def runner(scenario: Callable[[EmbeddedHost], Awaitable[Any]], bind: str = "127.0.0.1") -> Any:
        async def main() -> Any:
            async with EmbeddedHost(BASIC_APP, tmp_path / "data", host=bind) as host:
                return await scenario(host)

        return asyncio.run(main())

    return runner


async def _exchange(port: int, data: bytes, *, wait_s: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it or ``wait_s`` passes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    received = b""
    try:
        async with asyncio.timeout(wait_s):
            while chunk := await reader.read(65536):
                received += chunk
                if b"\r\n\r\n" in received and _complete(received):
                    break
    except TimeoutError:
        pass
    writer.close()
    return received


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0


def _header(response: bytes, name: str) -> str | None:
    head = response.partition(b"\r\n\r\n")[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def _request(method: str, target: str, *, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# -- 8: a key in an unparseable request line reaches no log line --------------------------------------------------
def test_a_code_key_in_a_request_line_aiohttp_refuses_reaches_no_log_line(
    on_host: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario(host: EmbeddedHost) -> list[int]:
        long_query = f"GET /api/echo?code={SECRET}&pad={'a' * 9000} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        non_ascii = f"GET /api/echo?code={SECRET}&x=".encode() + b"\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        codes = [_status(await _exchange(host.port or 0, raw)) for raw in (long_query, non_ascii)]
        # And any logger of the process, with the key in its arguments and in an exception's text.
        try:
            raise ValueError(f"bad URL /x?code={SECRET}")
        except ValueError:
            logging.getLogger("some.app.module").exception("calling %s failed", f"http://h/api?a=1&code={SECRET}")
        return codes

    codes = on_host(scenario)
    assert codes == [400, 400]
    assert "aiohttp.server" in {r.name for r in caplog.records}, "aiohttp logged nothing: the check proves nothing"
    assert "code=***" in caplog.text
    assert SECRET not in caplog.text


# -- 9: event names that would forge log lines ----------------------------------------------------------------
def test_event_names_with_control_characters_or_over_the_cap_are_refused(on_host: Callable[..., Any]) -> None:
    forged = "x%0A2026-12-07%2012:00:00%20ERROR%20forged"

    async def scenario(host: EmbeddedHost) -> dict[str, int]:
        instance_id = await host.start_new("wait_event", None, "waits-1")
        codes = {}
        for label, name in (("forged", forged), ("cr", "a%0Db"), ("long", "e" * 257), ("ok", "approve")):
            target = f"{DURABLE}/instances/{instance_id}/raiseEvent/{name}"
            raw = _request("POST", target, body=b"1", headers={"Content-Type": "application/json"})
            codes[label] = _status(await _exchange(host.port or 0, raw))
        return codes

    assert on_host(scenario) == {"forged": 400, "cr": 400, "long": 400, "ok": 202}


# -- 10: instance ids the extension refuses ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "quoted_id",
    [
        pytest.param("crlf%0d%0aSet-Cookie:%20a=b", id="crlf"),
        pytest.param("a%3Fcode%3Dx%23y", id="query-and-fragment"),
        pytest.param("a%2Fb", id="slash"),
        pytest.param("a%5Cb", id="backslash"),
        pytest.param("i" * 7000, id="7000-characters"),
    ],
)
def test_instance_ids_the_extension_refuses_are_400_and_create_nothing(
    on_host: Callable[..., Any], quoted_id: str
) -> None:
    async def scenario(host: EmbeddedHost) -> tuple[bytes, Any]:
        raw = _request("POST", f"{DURABLE}/orchestrators/sequence/{quoted_id}", body=b"{}")
        response = await _exchange(host.port or 0, raw)
        return response, host.get_status(urllib.parse.unquote(quoted_id))

    response, status = on_host(scenario)
    assert _status(response) == 400, response[:300]
    assert status is None
    assert b"Set-Cookie" not in response.partition(b"\r\n\r\n")[0]


def test_an_id_of_256_characters_is_still_taken(on_host: Callable[..., Any]) -> None:
    async def scenario(host: EmbeddedHost) -> int:
        raw = _request("POST", f"{DURABLE}/orchestrators/sequence/{'i' * 256}", body=b"{}")
        return _status(await _exchange(host.port or 0, raw))

    assert on_host(scenario) == 202


# -- 11: absolute-form request targets -------------------------------------------------------------------------
def test_an_absolute_target_naming_another_host_is_refused(on_host: Callable[..., Any]) -> None:
    async def scenario(host: EmbeddedHost) -> tuple[bytes, bytes]:
        port = host.port or 0
        evil = await _exchange(port, _request("POST", "http://evil.example/api/start/sequence", body=b"{}"))
        own = await _exchange(
            port,
            _request("POST", f"http://127.0.0.1:{port}/api/start/sequence", body=b"{}").replace(
                b"Host: 127.0.0.1\r\n", f"Host: 127.0.0.1:{port}\r\n".encode()
            ),
        )
        return evil, own

    evil, own = on_host(scenario)
    assert _status(evil) == 421 and b"evil.example" not in evil
    assert _status(own) == 202 and "127.0.0.1" in (_header(own, "Location") or "")


# -- 15: bad input is a 4xx problem, never a 500 -------------------------------------------------------------------
def test_the_probes_bad_inputs_are_4xx_problems(on_host: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    nested = b"[" * 100_000

    async def scenario(host: EmbeddedHost) -> dict[str, bytes]:
        port = host.port or 0
        instance_id = await host.start_new("wait_event", None, "waits-2")
        json_type = {"Content-Type": "application/json"}
        sent = {
            "overflowing time": _request("GET", f"{DURABLE}/instances?createdTimeFrom=9999-12-31T23:59:59-01:00"),
            "overflowing purge time": _request(
                "DELETE", f"{DURABLE}/instances?createdTimeFrom=0001-01-01T00:00:00+01:00"
            ),
            "nested start": _request("POST", f"{DURABLE}/orchestrators/sequence", body=nested, headers=json_type),
            "nested event": _request(
                "POST", f"{DURABLE}/instances/{instance_id}/raiseEvent/approve", body=nested, headers=json_type
            ),
            "port out of range": _request("POST", "/api/echo", body=b"x").replace(b"127.0.0.1", b"localhost:99999"),
            "non-ASCII key": _request("GET", f"{DURABLE}/instances").replace(
                b"\r\n\r\n", "\r\nx-functions-key: ké".encode() + b"\xff\r\n\r\n"
            ),
        }
        return {label: await _exchange(port, raw) for label, raw in sent.items()}

    answers = on_host(scenario, "0.0.0.0")  # beyond loopback, so that keys are asked for
    codes = {label: _status(response) for label, response in answers.items()}
    assert codes == {
        "overflowing time": 400,
        "overflowing purge time": 400,
        "nested start": 400,
        "nested event": 400,
        "port out of range": 421,
        "non-ASCII key": 401,
    }
    for response in answers.values():
        assert (_header(response, "Content-Type") or "").startswith("application/problem+json")
        json.loads(response.partition(b"\r\n\r\n")[2])
    assert "Traceback" not in caplog.text


# -- 16: read deadlines, and an aborted POST in one line -----------------------------------------------------------
def test_a_request_whose_headers_trickle_in_is_closed_at_the_deadline(
    on_host: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("embedded_host.host.HEADER_READ_TIMEOUT_S", 1.0)

    async def scenario(host: EmbeddedHost) -> float | None:
        reader, writer = await asyncio.open_connection("127.0.0.1", host.port or 0)
        writer.write(b"GET /api/echo HTTP/1.1\r\n")
        started = asyncio.get_running_loop().time()
        for n in range(20):  # one header line every 0.3 s: 6 s unless the host hangs up
            await asyncio.sleep(0.3)
            if reader.at_eof() or writer.is_closing():
                return asyncio.get_running_loop().time() - started
            writer.write(f"X-Slow-{n}: 1\r\n".encode())
            try:
                async with asyncio.timeout(0.01):
                    if await reader.read(100) == b"":
                        return asyncio.get_running_loop().time() - started
            except TimeoutError:
                continue
        writer.close()
        return None

    closed_after = on_host(scenario)
    assert closed_after is not None and closed_after < 4.0


def test_a_body_that_stops_arriving_gets_408_at_the_deadline(
    on_host: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("embedded_host.web.http_api.BODY_READ_TIMEOUT_S", 1.0)

    async def scenario(host: EmbeddedHost) -> tuple[bytes, float]:
        started = asyncio.get_running_loop().time()
        raw = _request("POST", "/api/echo", body=b"0123456789").replace(b"Content-Length: 10", b"Content-Length: 100")
        response = await _exchange(host.port or 0, raw, wait_s=6)
        return response, asyncio.get_running_loop().time() - started

    response, took = on_host(scenario)
    assert _status(response) == 408 and took < 4.0


def test_an_aborted_post_is_logged_as_one_line(on_host: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario(host: EmbeddedHost) -> None:
        for target in ("/api/echo", "/api/echo?x=1", "/api/echo%0A2026-12-07%20ERROR%20forged"):
            _reader, writer = await asyncio.open_connection("127.0.0.1", host.port or 0)
            writer.write(_request("POST", target, body=b"abc").replace(b"Content-Length: 3", b"Content-Length: 1000"))
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.transport.abort()  # a reset, not a polite close
        await asyncio.sleep(0.5)

    on_host(scenario)
    lines = [r for r in caplog.records if "/api/echo" in r.getMessage()]
    assert len(lines) == 3 and all(r.exc_info is None and "\n" not in r.getMessage() for r in lines)
    assert "Traceback" not in caplog.text


# -- 14: private state ---------------------------------------------------------------------------------------------
def test_the_data_folder_and_every_file_made_in_it_are_the_owners_only(on_host: Callable[..., Any]) -> None:
    async def scenario(host: EmbeddedHost) -> Path:
        instance_id = await host.start_new("sequence", {"steps": 2}, "private-1")
        assert (await host.wait_for_completion(instance_id, 30) or {}).get("runtimeStatus") == "Completed"
        with open(host.data_dir / "events.jsonl", "a") as events:  # as the app's event log is, in this process
            events.write("{}\n")
        return host.data_dir

    data = on_host(scenario)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    made = list(data.rglob("*"))
    assert {p.name for p in made} >= {"durable.sqlite", "events.jsonl"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) & 0o077 for p in made} == {p.name: 0 for p in made}
