"""`start_pipeline_from_queue` invoked as the host invokes it, with `func.ServiceBusMessage`."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from typing import Any

import azure.functions as func
import pytest
from azure.functions.servicebus import ServiceBusMessage

from tests.triggers.fake_client import FakeDurableClient, invocation_context
from triggers.queue_start import start_pipeline_from_queue

HANDLER = start_pipeline_from_queue._function._func.client_function
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Out(func.Out[str]):
    def __init__(self) -> None:
        self.value: str | None = None

    def set(self, val: str) -> None:
        self.value = val

    def get(self) -> str | None:
        return self.value


def message(body: bytes, *, message_id: str = "m-1", props: dict[str, Any] | None = None) -> ServiceBusMessage:
    return ServiceBusMessage(
        body=body,
        message_id=message_id,
        application_properties=props or {},
        user_properties=props or {},
        delivery_count=1,
        enqueued_time_utc=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        content_type="application/json",
    )


def deliver(msg: ServiceBusMessage, client: FakeDurableClient) -> Out:
    out = Out()
    asyncio.run(HANDLER(msg, out, client, invocation_context()))
    return out


def test_a_valid_message_starts_a_run_named_after_its_message_id_and_continues_its_trace() -> None:
    client = FakeDurableClient()
    out = deliver(message(b'{"question": "What is peek-lock?"}', props={"traceparent": TRACEPARENT}), client)

    assert out.value is None
    _, instance_id, run = client.starts[0]
    assert instance_id == "m-1"
    assert run["source"] == "queue"
    assert run["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_diagnostic_id_is_honoured_when_traceparent_is_absent() -> None:
    client = FakeDurableClient()
    deliver(message(b'{"question": "q"}', props={"Diagnostic-Id": TRACEPARENT}), client)
    assert client.starts[0][2]["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_redelivered_duplicates_start_once() -> None:
    client = FakeDurableClient()
    for _ in range(3):
        deliver(message(b'{"question": "q"}', message_id="dup"), client)
    assert len(client.starts) == 1


def test_request_id_in_the_body_wins_over_the_message_id() -> None:
    client = FakeDurableClient()
    deliver(message(b'{"question": "q", "request_id": "r-9"}', message_id="m-a"), client)
    deliver(message(b'{"question": "q", "request_id": "r-9"}', message_id="m-b"), client)
    assert [start[1] for start in client.starts] == ["r-9"]


def test_unsafe_message_ids_are_hashed_into_a_valid_instance_id() -> None:
    client = FakeDurableClient()
    deliver(message(b'{"question": "q"}', message_id="a/b#c?d"), client)
    instance_id = client.starts[0][1]
    assert instance_id.startswith("msg-") and "/" not in instance_id


@pytest.mark.parametrize(
    ("body", "reason", "says"),
    [
        (b"", "EmptyBody", "no body"),
        (b"not json", "InvalidJson", "not valid JSON"),
        (b"\xff\xfe\xfa", "InvalidEncoding", "UTF-8"),
        (b'{"question": 42}', "InvalidQuestion", "question"),
        (b'{"question": "q", "top_k": 99}', "InvalidQuestion", "top_k"),
        (b'{"question": "q", "extra": true}', "InvalidQuestion", "extra"),
        (b"[]", "InvalidQuestion", "body"),
        (b'{"question": "' + b"a" * 70000 + b'"}', "BodyTooLarge", "limit"),
    ],
)
def test_invalid_messages_are_dead_lettered_with_a_reason_and_never_started(
    body: bytes, reason: str, says: str
) -> None:
    client = FakeDurableClient()
    out = deliver(message(body, props={"producer": "p1"}), client)

    assert client.starts == []
    assert out.value is not None
    dead = json.loads(out.value)
    assert dead["DeadLetterReason"] == reason
    assert says in dead["DeadLetterErrorDescription"]
    assert dead["message_id"] == "m-1"
    assert dead["application_properties"] == {"producer": "p1"}
    kept = dead["body"]
    restored = kept["text"].encode() if "text" in kept else base64.b64decode(kept["base64"])
    assert restored == body  # nothing is lost: the original body travels with the reason


def test_a_failure_to_start_raises_so_service_bus_redelivers() -> None:
    class Broken(FakeDurableClient):
        async def get_status(self, instance_id: str) -> Any:
            raise ConnectionError("task hub unavailable")

    with pytest.raises(ConnectionError):
        deliver(message(b'{"question": "q"}'), Broken())


def test_a_message_without_trace_properties_continues_the_invocations_trace() -> None:
    client = FakeDurableClient()
    invocation = "00-33333333333333333333333333333333-4444444444444444-01"
    asyncio.run(HANDLER(message(b'{"question": "q"}'), Out(), client, invocation_context(invocation)))
    (_, _, run) = client.starts[0]
    assert run["traceparent"].split("-")[1] == "33333333333333333333333333333333"
