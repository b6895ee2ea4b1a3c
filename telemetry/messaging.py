"""The PRODUCER span of publishing the run's CloudEvent (messaging semantic conventions).

The event's `traceparent` extension is taken inside this span, so a subscriber's work links to
the send itself, as the conventions ask of a message's creation context.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.trace import Span, SpanKind

from telemetry.spans import recorded_span

__all__ = ["publish_span"]


@contextmanager
def publish_span(*, destination: str, message_id: str, event_type: str) -> Iterator[Span]:
    """A PRODUCER span `send {destination}` around one event publish.

    `messaging.system` is `eventgrid` for the local sink too: it stands in for the Event Grid topic
    (same CloudEvents, same ids), and one value keeps the dashboards the same in both places.
    """
    with recorded_span(
        f"send {destination}",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "eventgrid",
            "messaging.operation.name": "send",
            "messaging.operation.type": "send",
            "messaging.destination.name": destination,
            "messaging.message.id": message_id,
            "cloudevents.event_id": message_id,
            "cloudevents.event_type": event_type,
        },
    ) as span:
        yield span
