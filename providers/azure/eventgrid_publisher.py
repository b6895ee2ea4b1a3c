"""Pipeline events to an Event Grid topic as CloudEvents 1.0, through `azure-eventgrid`.

The CloudEvent id is the `OutgoingEvent`'s deterministic id, so a publish repeated after a crash
carries the same id and subscribers dedupe on source+id; the run's `traceparent` travels as the
CloudEvents distributed-tracing extension.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from providers.azure.credentials import Credential, LazyClient, key_or_token_credential
from providers.azure.errors import translating
from providers.base import Closing, OutgoingEvent
from providers.errors import ProviderError

if TYPE_CHECKING:
    from azure.core.messaging import CloudEvent
    from azure.eventgrid import EventGridPublisherClient

    from config.settings import Settings

__all__ = ["PIPELINE_PATH", "EventGridPublisher", "to_cloud_event"]


def to_cloud_event(event: OutgoingEvent) -> CloudEvent:
    """The azure-core CloudEvent for `event` (JSON data, traceparent as an extension)."""
    from azure.core.messaging import CloudEvent

    try:  # the SDK's encoder would send NaN (not JSON) or a repr of an object as the data
        json.dumps(dict(event.data), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProviderError.invalid_input(f"event {event.id} is not JSON-serialisable: {exc}") from exc
    extensions = {str(k): str(v) for k, v in event.extensions.items()}
    if event.traceparent:
        extensions["traceparent"] = event.traceparent
    try:
        return CloudEvent(
            source=event.source,
            type=event.type,
            data=dict(event.data),
            subject=event.subject,
            id=event.id,
            time=_parse_time(event.time),
            datacontenttype="application/json",
            extensions=extensions or None,
        )
    except ValueError as exc:  # e.g. an extension name CloudEvents does not allow
        raise ProviderError.invalid_input(f"event {event.id} is not a valid CloudEvent: {exc}") from exc


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ProviderError.invalid_input(f"event time {value!r} is not RFC 3339") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# EventGridPublisherClient -> its legacy basic-topic client -> the generated client -> the azure-core pipeline.
PIPELINE_PATH = ("_client", "_client", "_client", "_pipeline")


class EventGridPublisher(Closing):
    """`EventPublisher` to an Event Grid (basic) topic, with a topic key or Entra ID."""

    _service = "event grid"

    def __init__(
        self,
        endpoint: str,
        credential: Credential = None,
        *,
        retry_total: int = 1,
        timeout: float = 30.0,
    ) -> None:
        self._endpoint = endpoint
        self._credential = credential
        # Small on purpose: the orchestrator owns retries (see providers.azure.errors).
        self._retry_total = retry_total
        self._timeout = timeout
        self._client: LazyClient[EventGridPublisherClient] = LazyClient(self._build_client)

    @classmethod
    def from_settings(cls, settings: Settings) -> EventGridPublisher:
        if not settings.eventgrid_topic_endpoint:
            raise ProviderError.configuration("EVENTGRID_TOPIC_ENDPOINT is required for Event Grid")
        return cls(settings.eventgrid_topic_endpoint, settings.eventgrid_topic_key)

    @property
    def destination(self) -> str:
        """The topic, without query or credentials: safe to log and to record in results."""
        parts = urlsplit(self._endpoint)
        return f"eventgrid:{parts.netloc or self._endpoint}{parts.path}"

    def publish(self, event: OutgoingEvent) -> None:
        cloud_event = to_cloud_event(event)
        with translating(self._service):
            self._client.get().send([cloud_event])

    def publish_many(self, events: Sequence[OutgoingEvent]) -> None:
        """A batch in one request (Event Grid takes up to 1 MB per request): the Stale events of a re-index."""
        cloud_events = [to_cloud_event(event) for event in events]
        with translating(self._service):
            self._client.get().send(cloud_events)

    def close(self) -> None:
        self._client.close()

    def _build_client(self) -> EventGridPublisherClient:
        from azure.eventgrid import EventGridPublisherClient

        client = EventGridPublisherClient(self._endpoint, key_or_token_credential(self._credential))
        _limit_pipeline(client, retry_total=self._retry_total, timeout=self._timeout)
        return client


def _limit_pipeline(client: Any, *, retry_total: int, timeout: float) -> None:
    """Apply our retry and timeout limits to the client's HTTP pipeline."""
    # No public option does this: azure-eventgrid 4.22 builds the basic-topic client from endpoint,
    # credential and api_version only (constructor options are dropped), and per-call options leak
    # into the event model. So the built pipeline is tuned through its private attributes;
    # tests/providers/azure/test_eventgrid_publisher.py fails when the installed SDK moves them.
    pipeline: Any = client
    for attribute in PIPELINE_PATH:
        pipeline = getattr(pipeline, attribute, None)
    if pipeline is None:
        return
    from azure.core.pipeline.policies import RetryPolicy

    for policy in getattr(pipeline, "_impl_policies", []):
        if isinstance(policy, RetryPolicy):
            policy.total_retries = retry_total
    config = getattr(getattr(pipeline, "_transport", None), "connection_config", None)
    if config is not None:
        config.timeout = min(timeout, 10.0)
        config.read_timeout = timeout
