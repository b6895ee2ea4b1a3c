"""Service Bus as the question queue, at the SDK's boundary: batching on send, peeking both dead-letter places."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from azure.servicebus import ServiceBusMessage, ServiceBusMessageBatch
from azure.servicebus.exceptions import MessageSizeExceededError

from cli.queue_commands import dedupe_dead_letters
from config import Settings
from contracts.queue import DeadLetterRow, OutgoingMessage
from providers.azure.service_bus import ServiceBusQueue


class FakeClient:
    """A client whose sender hands out the SDK's own `ServiceBusMessageBatch` (its size accounting, its
    `MessageSizeExceededError` when full), limited to ``max_batch_bytes`` as a namespace's tier limits it."""

    def __init__(
        self,
        peeked: dict[tuple[str, Any], list[Any]] | None = None,
        max_batch_bytes: int = 2048,
        refused: dict[tuple[str, Any], Exception] | None = None,
    ) -> None:
        self.sent: list[ServiceBusMessageBatch] = []
        self.receivers: list[tuple[str, Any]] = []
        self.peeked = peeked or {}
        self.refused = refused or {}  # what peeking that queue raises, as the SDK does
        self.max_batch_bytes = max_batch_bytes

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def close(self) -> None:
        pass

    def get_queue_sender(self, queue: str) -> Any:
        client = self

        class Sender:
            def __enter__(self) -> Sender:
                return self

            def __exit__(self, *exc: object) -> None:
                pass

            def create_message_batch(self) -> ServiceBusMessageBatch:
                return ServiceBusMessageBatch(max_size_in_bytes=client.max_batch_bytes)

            def send_messages(self, batch: ServiceBusMessageBatch) -> None:
                client.sent.append(batch)

        return Sender()

    def get_queue_receiver(self, queue: str, sub_queue: Any = None) -> Any:
        self.receivers.append((queue, sub_queue))
        messages = self.peeked.get((queue, sub_queue), [])
        refusal = self.refused.get((queue, sub_queue))

        class Receiver:
            def __enter__(self) -> Receiver:
                return self

            def __exit__(self, *exc: object) -> None:
                pass

            def peek_messages(self, max_message_count: int) -> list[Any]:
                if refusal is not None:
                    raise refusal
                return messages[:max_message_count]

        return Receiver()


def received(body: bytes, **fields: Any) -> Any:
    """Shaped like `ServiceBusReceivedMessage`: the body is an iterable of byte sections."""
    return SimpleNamespace(body=iter([body[:3], body[3:]]), **fields)


SETTINGS = Settings(ServiceBusConnection__fullyQualifiedNamespace="ns.servicebus.windows.net")


def _greedy_batch_lengths(messages: list[ServiceBusMessage], max_bytes: int) -> list[int]:
    """How many messages each batch takes when every batch is filled until the SDK's size check refuses one."""
    lengths, batch = [], ServiceBusMessageBatch(max_size_in_bytes=max_bytes)
    for message in messages:
        try:
            batch.add_message(message)
        except MessageSizeExceededError:
            lengths.append(len(batch))
            batch = ServiceBusMessageBatch(max_size_in_bytes=max_bytes)
            batch.add_message(message)
    return [*lengths, len(batch)]


def test_send_splits_batches_where_the_sdks_size_limit_says(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient(max_batch_bytes=1024)
    monkeypatch.setattr(ServiceBusQueue, "_build", lambda self: client)
    # Questions of different lengths, so batches split by bytes, not by a count of messages.
    bodies = [json.dumps({"question": "How are steps retried? " * (1 + (i * i) % 9)}).encode() for i in range(20)]
    messages = [OutgoingMessage(b, f"m{i}", {"traceparent": "00-ab-cd-01"}) for i, b in enumerate(bodies)]

    assert ServiceBusQueue(SETTINGS).send(messages) == 20
    lengths = [len(batch) for batch in client.sent]
    as_sdk = [
        ServiceBusMessage(
            m.body,
            message_id=m.message_id,
            content_type=m.content_type,
            application_properties={"traceparent": "00-ab-cd-01"},
        )
        for m in messages
    ]
    assert sum(lengths) == 20 and len(lengths) > 2 and len(set(lengths)) > 1
    assert lengths == _greedy_batch_lengths(as_sdk, 1024)  # as few batches as the size limit allows
    assert all(0 < batch.size_in_bytes <= 1024 for batch in client.sent)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff"])
def test_a_dead_letter_without_our_envelope_is_still_listed(body: bytes) -> None:
    row = DeadLetterRow.rejected("questions-deadletter", "x", body)
    assert (row.message_id, row.reason) == ("x", "Unknown")


def test_a_message_dead_lettered_twice_is_listed_once() -> None:
    # The output binding and completing the trigger message are not atomic on Azure: a retried
    # invocation moves the same invalid message again, under a new message id of its own.
    envelope = json.dumps({"DeadLetterReason": "InvalidJson", "message_id": "orig-1", "body": "x"}).encode()
    rows = [DeadLetterRow.rejected("questions-deadletter", f"copy-{i}", envelope).model_dump() for i in range(2)]
    rows.append(
        DeadLetterRow.rejected("questions-deadletter", "copy-3", envelope.replace(b"orig-1", b"orig-2")).model_dump()
    )
    unique = dedupe_dead_letters(rows)
    assert [(r["message_id"], r["copies"]) for r in unique] == [("orig-1", 2), ("orig-2", 1)]


def listen_refused(queue: str) -> Exception:
    """What Service Bus answers a peek by an identity that holds Send but not Listen on the queue."""
    from azure.servicebus.exceptions import ServiceBusAuthorizationError

    return ServiceBusAuthorizationError(
        message="Unauthorized access. 'Listen' claim(s) are required to perform this operation. "
        f"Resource: 'sb://ns.servicebus.windows.net/{queue}'. TrackingId:7f0c, SystemTracker:gateway"
    )


def test_a_queue_that_cannot_be_peeked_is_reported_and_the_other_is_still_listed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from azure.servicebus import ServiceBusSubQueue

    from cli.queue_commands import run_dead_letters

    client = FakeClient(
        peeked={
            ("questions", ServiceBusSubQueue.DEAD_LETTER): [
                received(
                    b"{}",
                    message_id="m-1",
                    dead_letter_reason="MaxDeliveryCountExceeded",
                    dead_letter_error_description="",
                    delivery_count=10,
                )
            ]
        },
        refused={("questions-deadletter", None): listen_refused("questions-deadletter")},
    )
    monkeypatch.setattr(ServiceBusQueue, "_build", lambda self: client)
    monkeypatch.setattr("cli.queue_commands.settings", lambda: SETTINGS)

    assert run_dead_letters(as_json=False) == 1  # the list is partial
    out, err = capsys.readouterr()
    assert out.startswith("m-1: MaxDeliveryCountExceeded")
    assert err.strip() == (
        "error: cannot peek questions-deadletter: ServiceBusAuthorizationError: Unauthorized access. "
        "'Listen' claim(s) are required to perform this operation. "
        "Resource: 'sb://ns.servicebus.windows.net/questions-deadletter'. TrackingId:7f0c, SystemTracker:gateway"
    )
