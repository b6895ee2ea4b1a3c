"""Event Grid publishing through the real EventGridPublisherClient, against a fake topic.

The body the SDK sent is parsed with the CloudEvents SDK, which enforces the CloudEvents 1.0
required attributes, so the test checks what subscribers will actually receive.
"""

from __future__ import annotations

import json

import pytest

from config.settings import Settings
from contracts.errors import ErrorKind
from contracts.events import COMPLETED_EVENT_TYPE, event_id_for
from providers.azure.eventgrid_publisher import EventGridPublisher
from providers.base import OutgoingEvent
from providers.errors import ProviderError

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _event(instance_id: str = "req-42", event_type: str = COMPLETED_EVENT_TYPE, **extra) -> OutgoingEvent:
    return OutgoingEvent(
        id=event_id_for(instance_id, event_type),
        type=event_type,
        source="/durable-ai-pipeline",
        subject=f"pipeline/{instance_id}",
        time="2026-01-02T03:04:05.678Z",
        data={"instance_id": instance_id, "answer": "Retries back off [1].", "citations": [{"id": "a#0"}]},
        traceparent=TRACEPARENT,
        **extra,
    )


def _publisher(url: str, credential="topic-key") -> EventGridPublisher:
    return EventGridPublisher(f"{url}/api/events", credential, retry_total=0, timeout=5)


def _parse_batch(body: bytes):
    from cloudevents.core.formats.json import JSONFormat

    items = json.loads(body)
    assert isinstance(items, list)
    return [JSONFormat().read(None, json.dumps(item)) for item in items]


def test_publishes_one_cloudevent_with_key(server, shapes) -> None:
    server.reply(shapes.Reply(200))
    event = _event()
    with _publisher(server.url) as publisher:
        publisher.publish(event)

    request = server.last
    assert request.method == "POST"
    assert request.path == "/api/events"
    assert request.query == {"api-version": "2018-01-01"}
    assert request.headers["aeg-sas-key"] == "topic-key"
    assert request.headers["content-type"] == "application/cloudevents-batch+json; charset=utf-8"

    # The CloudEvent itself (attributes, data, traceparent) is the EventPublisher contract (tests/contracts).
    (received,) = _parse_batch(request.body)
    assert received.get_id() == event_id_for("req-42", COMPLETED_EVENT_TYPE) == event.id


def test_a_batch_of_stale_events_goes_in_one_request(server, shapes) -> None:
    from contracts.events import STALE_EVENT_TYPE

    server.reply(shapes.Reply(200))
    events = [_event(f"run-{n}", STALE_EVENT_TYPE) for n in range(3)]
    with _publisher(server.url) as publisher:
        publisher.publish_many(events)
    (request,) = server.requests
    sent = _parse_batch(request.body)
    assert [e.get_id() for e in sent] == [e.id for e in events]
    assert {e.get_type() for e in sent} == {STALE_EVENT_TYPE}
    assert [e.get_subject() for e in sent] == ["pipeline/run-0", "pipeline/run-1", "pipeline/run-2"]


def test_identity_sends_a_bearer_token_for_the_eventgrid_scope(tls_server, shapes, token_credential) -> None:
    tls_server.reply(shapes.Reply(200))
    _publisher(tls_server.url, token_credential).publish(_event())
    assert tls_server.last.headers["authorization"] == "Bearer fake-entra-token"
    assert "aeg-sas-key" not in tls_server.last.headers
    assert token_credential.scopes == [("https://eventgrid.azure.net/.default",)]


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (429, {"Retry-After": "9"}, ErrorKind.TRANSIENT, 9.0),
        (500, {}, ErrorKind.TRANSIENT, None),
        (400, {}, ErrorKind.REJECTED, None),
        (401, {}, ErrorKind.CONFIGURATION, None),
        (404, {}, ErrorKind.CONFIGURATION, None),
    ],
)
def test_http_failures_are_classified(server, shapes, status, headers, kind, retry_after) -> None:
    server.reply(shapes.reply(shapes.azure_error("Unauthorized", "boom"), status, headers))
    with pytest.raises(ProviderError) as caught:
        _publisher(server.url).publish(_event())
    assert caught.value.kind is kind
    assert caught.value.retry_after_s == retry_after
    assert len(server.requests) == 1  # SDK retries held at 0 here; the orchestrator owns retries


def test_connection_refused_is_transient(refused_url) -> None:
    with pytest.raises(ProviderError) as caught:
        _publisher(refused_url).publish(_event())
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_invalid_events_are_invalid_input(server) -> None:
    with pytest.raises(ProviderError) as caught:
        _publisher(server.url).publish(_event(extensions={"Bad-Name": "x"}))
    assert caught.value.kind is ErrorKind.INVALID_INPUT
    bad_time = OutgoingEvent(id="1", type="t", source="/s", subject="s", time="yesterday", data={})
    with pytest.raises(ProviderError):
        _publisher(server.url).publish(bad_time)
    assert server.requests == []


def test_from_settings_and_destination() -> None:
    publisher = EventGridPublisher.from_settings(
        Settings(eventgrid_topic_endpoint="https://topic.westeurope-1.eventgrid.azure.net/api/events")
    )
    assert publisher.destination == "eventgrid:topic.westeurope-1.eventgrid.azure.net/api/events"
    assert not publisher._client.built
    with pytest.raises(ProviderError):
        EventGridPublisher.from_settings(Settings())


def test_the_installed_sdk_still_has_the_pipeline_we_tune() -> None:
    """`_limit_pipeline` reaches into private attributes (no public option exists): fail loudly when they move."""
    from azure.core.pipeline.policies import RetryPolicy

    from providers.azure.eventgrid_publisher import PIPELINE_PATH

    with EventGridPublisher("https://topic.example/api/events", "topic-key", retry_total=1, timeout=7) as publisher:
        pipeline = publisher._client.get()
        for attribute in PIPELINE_PATH:
            pipeline = getattr(pipeline, attribute)
        retries = [p for p in pipeline._impl_policies if isinstance(p, RetryPolicy)]
        assert retries and all(p.total_retries == 1 for p in retries)
        assert pipeline._transport.connection_config.read_timeout == 7
