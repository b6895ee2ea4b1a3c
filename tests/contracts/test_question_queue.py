"""What every `QuestionQueue` does (the embedded host's local queue, Service Bus through its SDK).

No server speaks Service Bus's AMQP dialect here, so the Service Bus case meets its SDK at the client: the
`FakeClient` of `tests/providers/azure/test_service_bus_queue.py`, whose sender hands out the SDK's own
message batches. What arrived is read from the queue itself (local) or from those batches (Service Bus).
"""

from __future__ import annotations

import json

from contracts.queue import DeadLetterEnvelope, OriginalBody, OutgoingMessage
from tests.contracts.conftest import Queue

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _question(n: int) -> OutgoingMessage:
    body = json.dumps({"question": f"How are steps retried? ({n})"}).encode()
    return OutgoingMessage(body, f"msg-{n}", {"traceparent": TRACEPARENT})


def test_every_message_sent_arrives_once_as_it_was_sent(any_queue: Queue) -> None:
    messages = [_question(n) for n in range(5)]
    assert any_queue.queue.send(iter(messages)) == 5  # any iterable, read once
    assert sorted(any_queue.arrived()) == sorted(
        (m.message_id, m.body, m.application_properties, m.content_type) for m in messages
    )


def test_sending_nothing_sends_nothing(any_queue: Queue) -> None:
    assert any_queue.queue.send([]) == 0
    assert any_queue.arrived() == []


def test_with_nothing_dead_lettered_the_peek_is_empty(any_queue: Queue) -> None:
    peeked = any_queue.queue.peek_dead_letters(10)
    assert (peeked.items, peeked.errors) == ([], [])


def test_both_kinds_of_dead_letter_are_listed_with_their_reasons_and_peeking_removes_nothing(
    any_queue: Queue,
) -> None:
    any_queue.given_up("msg-7", b'{"question": "q"}', "MaxDeliveryCountExceeded", "10 deliveries")
    envelope = DeadLetterEnvelope(
        reason="InvalidJson", description="not JSON", message_id="msg-8", body=OriginalBody.of(b"nope")
    )
    any_queue.rejected("copy-1", envelope.to_json().encode())

    peeked = any_queue.queue.peek_dead_letters(10)
    rows = sorted(peeked.items, key=lambda row: row.queue)
    assert peeked.errors == []
    assert [(r.queue, r.message_id, r.reason, r.description) for r in rows] == [
        ("questions-deadletter", "msg-8", "InvalidJson", "not JSON"),  # the original's id, from the envelope
        ("questions/$deadletterqueue", "msg-7", "MaxDeliveryCountExceeded", "10 deliveries"),
    ]
    assert rows[0].body == {"text": "nope"} and rows[1].body == '{"question": "q"}'
    assert sorted(any_queue.queue.peek_dead_letters(10).items, key=lambda row: row.queue) == rows  # still there


def test_the_peek_lists_no_more_than_the_limit_from_each_place(any_queue: Queue) -> None:
    for n in range(3):
        any_queue.given_up(f"msg-{n}", b"{}", "MaxDeliveryCountExceeded", "")
    assert len(any_queue.queue.peek_dead_letters(2).items) == 2
    assert len(any_queue.queue.peek_dead_letters(10).items) == 3


def test_the_destination_names_the_queue(any_queue: Queue) -> None:
    assert "questions" in any_queue.queue.destination
