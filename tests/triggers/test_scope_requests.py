"""A request's `scopes` at both starters: valid names travel to the run; a bad one is a 400 or a dead letter."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import azure.functions as func
import pytest
from azure.functions.servicebus import ServiceBusMessage

from contracts import MAX_SCOPES, Question
from tests.scope_values import INERT_SCOPES, REFUSED_SCOPE_VALUES
from tests.triggers.fake_client import FakeDurableClient, invocation_context
from triggers.http_start import start_pipeline
from triggers.openapi import build_document
from triggers.queue_start import start_pipeline_from_queue

START = start_pipeline._function._func.client_function
FROM_QUEUE = start_pipeline_from_queue._function._func.client_function


def call(body: Any, client: FakeDurableClient) -> func.HttpResponse:
    req = func.HttpRequest(
        "POST",
        "http://localhost:7071/api/pipeline/start",
        headers={"Content-Type": "application/json"},
        body=json.dumps(body).encode(),
    )
    return asyncio.run(START(req, client, invocation_context()))


def problem(resp: func.HttpResponse) -> dict[str, Any]:
    assert resp.headers["Content-Type"] == "application/problem+json"
    return json.loads(resp.get_body())


class _Out(func.Out[str]):
    def __init__(self) -> None:
        self.value: str | None = None

    def set(self, val: str) -> None:
        self.value = val

    def get(self) -> str | None:
        return self.value


def deliver(body: bytes, client: FakeDurableClient, message_id: str = "m-1") -> _Out:
    msg = ServiceBusMessage(
        body=body,
        message_id=message_id,
        application_properties={},
        user_properties={},
        delivery_count=1,
        enqueued_time_utc=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        content_type="application/json",
    )
    out = _Out()
    asyncio.run(FROM_QUEUE(msg, out, client, invocation_context()))
    return out


BAD_BODIES = [
    *[{"question": "q", "scopes": [value]} for value in REFUSED_SCOPE_VALUES],
    {"question": "q", "scopes": ["hr", "*"]},  # one bad name spoils the list
    {"question": "q", "scopes": "hr"},  # a string is not a list of them
    {"question": "q", "scopes": {"hr": True}},
    {"question": "q", "scopes": [f"s{i}" for i in range(MAX_SCOPES + 1)]},
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=lambda body: repr(body["scopes"])[:40])
def test_a_bad_scope_is_a_400_problem_naming_the_field_and_starts_nothing(body: dict[str, Any]) -> None:
    client = FakeDurableClient()
    resp = call(body, client)
    assert resp.status_code == 400
    details = problem(resp)
    fields = [e["field"] for e in details["errors"]]
    assert fields and all(f == "scopes" or f.startswith("scopes.") for f in fields)
    assert client.starts == []
    if isinstance(body["scopes"], list) and len(body["scopes"]) == 1 and isinstance(body["scopes"][0], str):
        bad = body["scopes"][0]
        assert "A-Z a-z 0-9 . _ : -" in details["errors"][0]["message"]  # the rule, in words
        assert len(bad) <= 3 or bad not in resp.get_body().decode()  # the value is not echoed back


@pytest.mark.parametrize("body", BAD_BODIES[:8] + BAD_BODIES[-4:], ids=lambda body: repr(body["scopes"])[:40])
def test_a_queue_message_with_a_bad_scope_is_dead_lettered_with_the_reason(body: dict[str, Any]) -> None:
    client = FakeDurableClient()
    out = deliver(json.dumps(body).encode(), client)
    assert client.starts == [] and out.value is not None
    dead = json.loads(out.value)
    assert dead["DeadLetterReason"] == "InvalidQuestion"
    assert "scopes" in dead["DeadLetterErrorDescription"]


def test_valid_scopes_reach_the_run_once_each_in_one_order() -> None:
    client = FakeDurableClient()
    resp = call({"question": "q", "scopes": ["team:b", "team:a", "team:b"]}, client)
    assert resp.status_code == 202
    assert client.starts[0][2]["question"]["scopes"] == ["team:a", "team:b"]
    deliver(b'{"question": "q", "scopes": ["ops"]}', client, message_id="m-scoped")
    assert client.starts[1][2]["question"]["scopes"] == ["ops"]


@pytest.mark.parametrize(
    "body", [{"question": "q"}, {"question": "q", "scopes": None}, {"question": "q", "scopes": []}]
)
def test_no_scopes_is_accepted_and_means_unscoped_documents_only(body: dict[str, Any]) -> None:
    client = FakeDurableClient()
    assert call(body, client).status_code == 202
    assert client.starts[0][2]["question"].get("scopes") in (None, [])


def test_names_that_read_like_syntax_are_accepted_as_plain_names() -> None:
    assert Question(question="q", scopes=INERT_SCOPES).scopes == sorted(set(INERT_SCOPES))


def test_the_openapi_document_states_the_scope_rule() -> None:
    scopes = build_document()["components"]["schemas"]["Question"]["properties"]["scopes"]
    array = next(option for option in scopes["anyOf"] if option.get("type") == "array")
    assert array["maxItems"] == MAX_SCOPES
    assert array["items"] == {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9._:-]{1,64}$"}
