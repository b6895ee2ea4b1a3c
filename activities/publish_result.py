"""`publish_result`: the Completed or Failed CloudEvent, with a deterministic id and the run's trace.

Before a Completed event goes out, the answer's citations are recorded in the provenance store
(`providers.provenance`), so a later re-index can tell this answer it went stale. Recording is
idempotent (a retried publish records the same rows), and it comes first: an answer that was
published has always been recorded.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import azure.durable_functions as df

from activities._step import ActivityFailed, run_step
from config import get_settings
from contracts import (
    COMPLETED_EVENT_TYPE,
    FAILED_EVENT_TYPE,
    ErrorKind,
    PublishedEvent,
    PublishResultInput,
    Result,
    StepError,
    StepName,
    event_id_for,
)
from providers.base import OutgoingEvent
from providers.factory import cited_passages, get_provenance, get_publisher
from providers.provenance import AnswerRecord, CitedPassage, passage_hash
from telemetry import current_traceparent, publish_span, record_run

__all__ = ["ACTIVITY_NAME", "bp", "build_event"]

ACTIVITY_NAME = StepName.PUBLISH_RESULT.value
bp = df.Blueprint()


def build_event(
    payload: PublishResultInput, *, source: str, now: datetime, traceparent: str | None = None
) -> OutgoingEvent:
    """The CloudEvent for a run's outcome; its id depends only on the instance and the type."""
    if (payload.result is None) == (payload.failure is None):
        raise ActivityFailed(
            StepError(kind=ErrorKind.INVALID_INPUT, message="exactly one of result or failure must be given")
        )
    event_type, data = (
        (COMPLETED_EVENT_TYPE, payload.result.model_dump(mode="json"))
        if payload.result is not None
        else (FAILED_EVENT_TYPE, payload.failure.model_dump(mode="json"))  # type: ignore[union-attr]
    )
    return OutgoingEvent(
        id=event_id_for(payload.instance_id, event_type),
        type=event_type,
        source=source,
        subject=f"pipeline/{payload.instance_id}",
        time=now.isoformat().replace("+00:00", "Z"),
        data=data,
        traceparent=traceparent or payload.traceparent,
    )


def _record_provenance(result: Result, now: datetime) -> None:
    """Keep which passages (and which text of them) the answer cited; a refusal cites none and is skipped."""
    store = get_provenance()
    if store is None or not result.citations:
        return
    ids = list(dict.fromkeys(c.id for c in result.citations))
    # A passage replaced since the answer step has no text now: hash "" never matches, so it goes stale.
    texts = {p.id: p.content for p in cited_passages(ids, scopes=result.scopes)}
    store.record_answer(
        AnswerRecord(
            instance_id=result.instance_id,
            question=result.question,
            answered_at=now.isoformat().replace("+00:00", "Z"),
            citations=tuple(
                CitedPassage(c.id, passage_hash(texts[c.id]) if c.id in texts else "", c.source, c.page)
                for c in {c.id: c for c in result.citations}.values()
            ),
            scopes=tuple(result.scopes),
            metadata=result.metadata,
        )
    )


def _publish(payload: PublishResultInput) -> PublishedEvent:
    now = datetime.now(UTC)
    if payload.result is not None:
        _record_provenance(payload.result, now)
    event = build_event(payload, source=get_settings().pipeline_event_source, now=now)
    publisher = get_publisher()
    with publish_span(destination=publisher.destination, message_id=event.id, event_type=event.type):
        # The send span's context, so a subscriber's work links into the run's trace at the send.
        event = replace(event, traceparent=current_traceparent() or event.traceparent)
        publisher.publish(event)
    _count_run(payload)
    return PublishedEvent(event_id=event.id, type=event.type, destination=publisher.destination)


def _count_run(payload: PublishResultInput) -> None:
    """Count the run once its outcome is out (a failed publish is retried, then counted).

    A completed run's duration runs from the starter's acceptance to this publish (queueing, retries
    and backoff included); a run started without that time falls back to the sum of its steps.
    """
    if payload.result is not None:
        if payload.accepted_at is not None:
            seconds = (datetime.now(UTC) - payload.accepted_at).total_seconds()
        else:
            seconds = sum(payload.result.timings_ms.values()) / 1000
        record_run(completed=True, seconds=max(0.0, seconds))
    elif payload.failure is not None:
        record_run(completed=False, step=payload.failure.step, error_kind=payload.failure.error_kind.value)


@bp.activity_trigger(input_name="payload", activity=ACTIVITY_NAME)
def publish_result(payload: dict) -> dict:  # plain classes: see activities/__init__.py
    return run_step(ACTIVITY_NAME, PublishResultInput, payload, _publish)
