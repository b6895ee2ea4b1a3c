"""What every `EventPublisher` does (local events.jsonl + webhooks, Event Grid through its SDK against the
recording server), seen from a subscriber: a CloudEvent 1.0 as the event says, the same id however often it
is published, and failures as `ProviderError`.

What a subscriber received is parsed with the CloudEvents SDK, which enforces the required attributes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.errors import ErrorKind
from providers.base import OutgoingEvent
from providers.errors import ProviderError
from tests.contracts.conftest import Publisher, outgoing


def _cloud_event(item: dict[str, Any]) -> Any:
    from cloudevents.core.formats.json import JSONFormat

    return JSONFormat().read(None, json.dumps(item))


def test_a_subscriber_receives_the_event_as_a_cloudevent(any_publisher: Publisher) -> None:
    event = outgoing("evt-wire", note="naïve ✓")
    any_publisher.publisher.publish(event)
    (item,) = any_publisher.received()
    received = _cloud_event(item)
    assert received.get_specversion() == "1.0"
    assert received.get_id() == "evt-wire"
    assert received.get_type() == event.type
    assert received.get_source() == event.source
    assert received.get_subject() == event.subject
    assert received.get_datacontenttype() == "application/json"
    assert received.get_time().isoformat().startswith("2026-01-02T03:04:05.678")
    assert received.get_extension("traceparent") == event.traceparent
    assert received.get_data() == dict(event.data)


def test_an_event_published_again_reaches_subscribers_with_the_same_id(any_publisher: Publisher) -> None:
    for _ in range(3):  # a retried activity publishes again
        any_publisher.publisher.publish(outgoing("evt-retried"))
    any_publisher.publisher.publish(outgoing("evt-other"))
    received = [_cloud_event(item) for item in any_publisher.received()]
    assert {e.get_id() for e in received} == {"evt-retried", "evt-other"}  # what a subscriber dedupes on
    copies = [e for e in received if e.get_id() == "evt-retried"]
    assert all(e.get_data() == copies[0].get_data() for e in copies)


def test_a_batch_reaches_subscribers_as_one_event_each(any_publisher: Publisher) -> None:
    events = [outgoing(f"evt-{n}") for n in range(3)]
    any_publisher.publisher.publish_many(events)
    assert sorted(_cloud_event(item).get_id() for item in any_publisher.received()) == ["evt-0", "evt-1", "evt-2"]


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(outgoing("evt-nan", value=float("nan")), id="data not JSON"),
        pytest.param(outgoing("evt-object", value=object()), id="data not serialisable"),
    ],
)
def test_an_event_that_cannot_be_sent_is_invalid_input_and_nothing_goes_out(
    any_publisher: Publisher, event: OutgoingEvent
) -> None:
    with pytest.raises(ProviderError) as refused:
        any_publisher.publisher.publish(event)
    assert refused.value.kind is ErrorKind.INVALID_INPUT
    assert not any_publisher.sent_anything()


def test_the_destination_names_where_events_go_and_no_credential(any_publisher: Publisher) -> None:
    destination = any_publisher.publisher.destination
    assert isinstance(destination, str) and destination
    assert "topic-key" not in destination and "secret" not in destination
