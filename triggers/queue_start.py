"""`start_pipeline_from_queue`: a Service Bus message in, a run started once per message id.

A message that is not a valid Question is not retried (it would fail the same way every time):
it is moved to the dead-letter queue `PIPELINE_DEAD_LETTER_QUEUE_NAME` with a reason that names
the problem, and the original is completed. The Python worker cannot settle a message itself
(that needs the beta gRPC settlement extension), so the move is an output binding written in
the same invocation. Failures to *start* a valid question raise, so Service Bus redelivers.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from config import get_settings
from contracts import Question
from contracts.queue import DeadLetterEnvelope, OriginalBody
from telemetry import starter_span
from triggers._http import UnreadableBody, parse_json
from triggers.starting import instance_id_for_message, invocation_traceparent, start_once

__all__ = ["FUNCTION_NAME", "InvalidMessage", "bp", "dead_letter_body", "parse_question"]

FUNCTION_NAME = "start_pipeline_from_queue"
CONNECTION = "ServiceBusConnection"

log = logging.getLogger(__name__)
bp = df.Blueprint()


class InvalidMessage(UnreadableBody):
    """The message cannot become a Question; `reason` is a short code, `description` says why."""


def parse_question(body: bytes) -> Question:
    if not body:
        raise InvalidMessage("EmptyBody", "The message has no body; expected a Question as JSON.")
    try:
        data = parse_json(body)
    except UnreadableBody as unreadable:
        raise InvalidMessage(unreadable.reason, unreadable.description) from None
    try:
        return Question.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise InvalidMessage("InvalidQuestion", f"The body is not a valid Question: {problems}") from None


def dead_letter_body(message: func.ServiceBusMessage, body: bytes, problem: InvalidMessage) -> str:
    """The dead-lettered copy: the reason, the original body as it came, and where it came from."""
    return DeadLetterEnvelope(
        reason=problem.reason,
        description=problem.description,
        message_id=message.message_id,
        delivery_count=message.delivery_count,
        enqueued_time_utc=message.enqueued_time_utc,
        application_properties=_properties(message),
        body=OriginalBody.of(body),
    ).to_json()


def _properties(message: func.ServiceBusMessage) -> dict[str, Any]:
    props = getattr(message, "application_properties", None) or getattr(message, "user_properties", None)
    return dict(props or {})


def _traceparent(message: func.ServiceBusMessage) -> str | None:
    props = _properties(message)
    value = props.get("traceparent") or props.get("Diagnostic-Id")
    return str(value) if value else None


@bp.function_name(FUNCTION_NAME)
@bp.service_bus_queue_trigger(arg_name="message", connection=CONNECTION, queue_name="%PIPELINE_QUEUE_NAME%")
@bp.service_bus_queue_output(
    arg_name="dead_letters", connection=CONNECTION, queue_name="%PIPELINE_DEAD_LETTER_QUEUE_NAME%"
)
@bp.durable_client_input(client_name="client")
async def start_pipeline_from_queue(
    message: func.ServiceBusMessage,
    dead_letters: func.Out[str],
    client: df.DurableOrchestrationClient,
    context: func.Context,
) -> None:
    incoming = _traceparent(message) or invocation_traceparent(context)
    with starter_span(
        "questions process",
        kind=SpanKind.CONSUMER,
        traceparent=incoming,
        attributes={
            "messaging.system": "servicebus",
            "messaging.operation.name": "process",
            "messaging.operation.type": "process",
            "messaging.destination.name": get_settings().pipeline_queue_name,
            "messaging.message.id": message.message_id or "",
            "messaging.servicebus.message.delivery_count": message.delivery_count or 0,
        },
    ) as span:
        body = message.get_body() or b""
        try:
            question = parse_question(body)
        except InvalidMessage as problem:
            log.warning("dead-lettering message %s: %s: %s", message.message_id, problem.reason, problem.description)
            span.set_attribute("pipeline.dead_letter_reason", problem.reason)
            dead_letters.set(dead_letter_body(message, body, problem))
            return
        instance_id = instance_id_for_message(message.message_id, question)
        outcome = await start_once(client, question, instance_id, span=span, incoming=incoming, source="queue")
        if not outcome.created:
            log.info(
                "message %s: instance %s already exists (%s); not started again",
                message.message_id,
                instance_id,
                outcome.runtime_status,
            )
