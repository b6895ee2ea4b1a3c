"""Fuzzed requests over every route of `pipeline serve`: the app's routes, the Durable API, the monitor.

Hypothesis draws each request: a route (method and path template, or a path that matches none), path values
(ids of real runs, unicode, encoded slashes and dots, very long), query parameters the handlers read and some
they do not, a content type, and a body (a valid question, any JSON, raw bytes). Nothing may answer 5xx or
take longer than the client's timeout (the one deliberate 5xx, the embedded host's documented 501 for
listing entities, is counted apart), and the host must still answer, and run a question, afterwards.
Shared by `tests/chaos/test_route_fuzz.py` (100 requests) and `bench/fuzz_routes.py` (10,000).
"""

from __future__ import annotations

import collections
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

__all__ = ["FuzzFigures", "fuzz_routes"]

_WEBHOOK = "/runtime/webhooks/durabletask"
ROUTES: list[tuple[str, str]] = [
    ("POST", "/api/pipeline/start"),
    ("GET", "/api/pipeline/{id}"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/monitor/dead-letters"),
    ("GET", "/api/monitor/undelivered-events"),
    ("GET", "/monitor/"),
    ("GET", "/monitor/{name}"),
    ("POST", _WEBHOOK + "/orchestrators/{name}"),
    ("POST", _WEBHOOK + "/orchestrators/{name}/{id}"),
    ("GET", _WEBHOOK + "/instances"),
    ("GET", _WEBHOOK + "/instances/{id}"),
    ("DELETE", _WEBHOOK + "/instances"),
    ("DELETE", _WEBHOOK + "/instances/{id}"),
    ("POST", _WEBHOOK + "/instances/{id}/restart"),
    ("POST", _WEBHOOK + "/instances/{id}/raiseEvent/{name}"),
    ("POST", _WEBHOOK + "/instances/{id}/terminate"),
    ("POST", _WEBHOOK + "/instances/{id}/suspend"),
    ("POST", _WEBHOOK + "/instances/{id}/resume"),
    ("POST", _WEBHOOK + "/instances/{id}/rewind"),
    ("GET", _WEBHOOK + "/entities/{name}"),
    ("GET", _WEBHOOK + "/entities/{name}/{id}"),
    ("POST", _WEBHOOK + "/entities/{name}/{id}"),
    ("GET", "/{name}"),  # no such route
    ("PUT", "/api/pipeline/start"),  # a method the route does not take
]
_NOT_LISTED = "does not list entities"  # the 501's detail: recognised by what it says, whatever path led there
_QUERY_NAMES = [
    "showHistory",
    "showHistoryOutput",
    "showInput",
    "runtimeStatus",
    "createdTimeFrom",
    "createdTimeTo",
    "top",
    "reason",
    "restartWithNewInstanceId",
    "taskHub",
    "connection",
    "op",
    "scope",
    "code",
]
_TEXT = st.text(max_size=40) | st.sampled_from(["", ".", "..", "%2F", "a/b", "x" * 300, "Completed", "true", "0"])
_TIMES = st.sampled_from(["2026-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01", "-1", "nan", "2026-13-45"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _question(draw: Any) -> dict[str, Any]:
    question: dict[str, Any] = {"question": draw(st.text(min_size=1, max_size=80))}
    if draw(st.booleans()):
        question["request_id"] = draw(st.text(max_size=20))
    if draw(st.booleans()):
        question["top_k"] = draw(st.integers(-5, 100))
    if draw(st.booleans()):
        question["scopes"] = draw(st.lists(st.text(max_size=12), max_size=3))
    return question


@st.composite
def requests(draw: Any, known_ids: list[str]) -> tuple[str, str, dict[str, str], dict[str, str], bytes]:
    method, template = draw(st.sampled_from(ROUTES))
    ids = st.sampled_from(known_ids) | _TEXT if known_ids else _TEXT
    names = st.sampled_from(["pipeline_orchestrator", "approve", "index.html", "app.js", "counter"]) | _TEXT
    path = template.replace("{id}", quote(draw(ids), safe="")).replace("{name}", quote(draw(names), safe=""))
    query = {name: draw(_TIMES if "Time" in name else _TEXT) for name in draw(st.sets(st.sampled_from(_QUERY_NAMES)))}
    kind = draw(st.sampled_from(["question", "json", "bytes", "empty"]))
    content_type = draw(st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]))
    if kind == "question":
        body = json.dumps(_question(draw)).encode()
    elif kind == "json":
        body = json.dumps(draw(_JSON)).encode()
    elif kind == "bytes":
        body = draw(st.binary(max_size=200))
    else:
        body = b""
    headers = {"Content-Type": content_type} if content_type else {}
    if draw(st.booleans()):
        headers["x-ms-continuation-token"] = draw(st.from_regex(r"\A[!-~]{0,60}\Z"))
    return method, path, query, headers, body


@dataclass
class FuzzFigures:
    requests: int = 0
    server_errors: int = 0
    not_implemented: int = 0  # the documented 501 of listing entities, counted apart from failures
    hangs: int = 0
    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    first_errors: list[str] = field(default_factory=list)
    alive_after: bool = False
    question_after: str = ""
    seconds: float = 0.0


def fuzz_routes(base_url: str, examples: int, *, seed: int = 0, timeout_s: float = 10.0) -> FuzzFigures:
    """Send `examples` drawn requests to the host at `base_url`; count 5xx and hangs; check it lives on."""
    figures = FuzzFigures()
    began = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=timeout_s) as client:
        known = [_start(client, f"fuzz-seed-{i}") for i in range(3)]

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            derandomize=seed == 0,
        )
        @given(requests([k for k in known if k]))
        def send(request: tuple[str, str, dict[str, str], dict[str, str], bytes]) -> None:
            method, path, query, headers, body = request
            figures.requests += 1
            try:
                response = client.request(method, path, params=query, headers=headers, content=body)
            except httpx.TimeoutException:
                figures.hangs += 1
                return
            figures.by_status[response.status_code] += 1
            if response.status_code == 501 and _NOT_LISTED in response.text:
                figures.not_implemented += 1
            elif response.status_code >= 500:
                figures.server_errors += 1
                if len(figures.first_errors) < 5:
                    said = f"{response.status_code} {response.text[:200]}"
                    figures.first_errors.append(f"{method} {path} {query} -> {said}")

        send()
        figures.alive_after = client.get("/api/openapi.json").status_code == 200
        after = _start(client, "fuzz-after")
        figures.question_after = _wait(client, after) if after else "not accepted"
    figures.seconds = round(time.monotonic() - began, 1)
    return figures


def _start(client: httpx.Client, request_id: str) -> str:
    body = {"question": "What is a task hub?", "request_id": request_id}
    response = client.post("/api/pipeline/start", json=body)
    return str(response.json()["instance_id"]) if response.status_code == 202 else ""


def _wait(client: httpx.Client, instance_id: str, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        status = str(client.get(f"/api/pipeline/{instance_id}").json().get("runtime_status"))
        if status in ("Completed", "Failed", "Terminated"):
            break
        time.sleep(0.2)
    return status
