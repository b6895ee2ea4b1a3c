"""Starting a run exactly once per identity, whichever starter accepted the question.

The Durable client's `start_new` silently replaces a finished instance with the same id, so a
repeat would run twice; an idempotent start asks for the status first and answers with the
existing instance. A concurrent twin that wins the race makes `start_new` fail for a running
instance; the loser then reports the winner's instance.

A run that ended `Failed` or `Terminated` is started again under the same id (the Durable client
replaces a finished instance): its question was never answered, so a caller or producer that sends
it again asks for another try. A `Completed`, `Pending` or `Running` run is never started twice.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func
from opentelemetry.trace import Span

from config import get_settings
from contracts import PipelineInput, Question
from orchestration.orchestrator import ORCHESTRATOR_NAME
from telemetry import current_traceparent

__all__ = [
    "StartOutcome",
    "StartUnavailable",
    "instance_id_for",
    "instance_id_for_message",
    "invocation_traceparent",
    "is_instance_id",
    "start_once",
]

log = logging.getLogger(__name__)

# Durable instance ids must avoid '/', '\\', '#', '?' and control characters; keep a safe subset.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


_DOT_SEGMENTS = frozenset({".", ".."})
# Finished without an answer: a repeat of the same identity runs the question again.
RERUNNABLE = frozenset({"Failed", "Terminated"})


def is_instance_id(value: str) -> bool:
    """Whether `value` can name a run this app starts (request ids, safe message ids, uuids, hashed ids).

    Anything else cannot exist, and must not reach the Durable client: it puts the id into a URL path
    unescaped, so `#` or `?` (or a `.`/`..` segment) would turn a status query into a different request.
    """
    return bool(_SAFE_ID.match(value)) and value not in _DOT_SEGMENTS


def invocation_traceparent(context: func.Context | None) -> str | None:
    """The trace context the host gave this invocation (every invocation has one, on Azure and locally).

    The run's trace falls back to it when the caller sent none and no exporter is configured, so a
    run and its CloudEvent always carry a `traceparent`.
    """
    trace_context = getattr(context, "trace_context", None)
    return getattr(trace_context, "trace_parent", None) or None


def _hashed(prefix: str, value: str) -> str:
    return prefix + hashlib.sha256(value.encode()).hexdigest()[:40]


def _from_request_id(request_id: str) -> str:
    # "." and ".." are valid request ids but URL dot segments: as instance ids they would address the
    # instance list, so they get a deterministic stand-in instead.
    return _hashed("rid-", request_id) if request_id in _DOT_SEGMENTS else request_id


def instance_id_for(question: Question) -> str:
    """From the caller's request_id when given (a repeat never runs twice), else a new uuid."""
    return _from_request_id(question.request_id) if question.request_id else uuid.uuid4().hex


def instance_id_for_message(message_id: str | None, question: Question) -> str:
    """Queue messages: the request_id wins, then the Service Bus message id (hashed if unsafe)."""
    if question.request_id:
        return _from_request_id(question.request_id)
    if not message_id:
        return uuid.uuid4().hex
    if is_instance_id(message_id):
        return message_id
    return _hashed("msg-", message_id)


class StartUnavailable(RuntimeError):
    """The Durable backend cannot take a start now (its storage refused the write: a full disk); try later.

    `retry_after` is the backend's hint in seconds. Nothing was started: the question is not lost as long
    as the caller (or Service Bus, through redelivery) sends it again.
    """

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def _unavailable(error: Exception) -> StartUnavailable | None:
    """The SDK surfaces an unexpected answer as `Exception(body)`: a 503 problem body means "not now"."""
    body = error.args[0] if error.args else None
    if isinstance(body, dict) and body.get("status") == 503:
        retry_after = body.get("retryAfter")
        detail = str(body.get("detail") or "The Durable backend is unavailable.")
        return StartUnavailable(detail, retry_after if isinstance(retry_after, int) and retry_after > 0 else 5)
    return None


@dataclass(frozen=True, slots=True)
class StartOutcome:
    instance_id: str
    created: bool
    runtime_status: str


async def _existing_status(client: df.DurableOrchestrationClient, instance_id: str) -> str | None:
    status = await client.get_status(instance_id)
    runtime = getattr(status, "runtime_status", None)
    return None if runtime is None else getattr(runtime, "value", str(runtime))


async def start_once(
    client: df.DurableOrchestrationClient,
    question: Question,
    instance_id: str,
    *,
    span: Span,
    incoming: str | None,
    source: str,
) -> StartOutcome:
    """Start the run unless it exists and may not run again; the starter's `span` gets its id and scopes, and
    the run continues the span's trace (else the caller's `incoming` traceparent)."""
    span.set_attribute("pipeline.instance_id", instance_id)
    span.set_attribute("pipeline.scopes", question.scopes or [])
    traceparent = current_traceparent() or incoming
    existing = await _existing_status(client, instance_id)
    if existing is not None and existing not in RERUNNABLE:
        return StartOutcome(instance_id, created=False, runtime_status=existing)
    if existing is not None:
        log.info("instance %s ended %s; starting it again", instance_id, existing)
    run = PipelineInput(
        accepted_at=datetime.now(UTC),
        question=question,
        traceparent=traceparent,
        source=source,
        retry=get_settings().retry_policies(),
    )
    try:
        await client.start_new(ORCHESTRATOR_NAME, instance_id, run.model_dump(mode="json"))
    except Exception as error:
        if (unavailable := _unavailable(error)) is not None:
            raise unavailable from None
        existing = await _existing_status(client, instance_id)
        if existing is None or existing in RERUNNABLE:
            raise
        log.info("instance %s was started concurrently; answering with it", instance_id)
        return StartOutcome(instance_id, created=False, runtime_status=existing)
    return StartOutcome(instance_id, created=True, runtime_status="Pending")
