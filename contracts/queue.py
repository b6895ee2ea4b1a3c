"""The question queue's other traffic: a message as a producer sends it, and the dead-letter envelope.

A message the starter cannot turn into a Question is moved to the queue `PIPELINE_DEAD_LETTER_QUEUE_NAME`
as a `DeadLetterEnvelope` (JSON, its reason under Service Bus's own property names), written by
`triggers/queue_start.py` and read back by every view of dead letters (`pipeline dead-letters`, the monitor).
A `DeadLetterRow` is what those views show, whichever queue or service a letter came from.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from contracts.question import Question

__all__ = [
    "DeadLetterEnvelope",
    "DeadLetterRow",
    "OriginalBody",
    "OutgoingMessage",
    "PeekedDeadLetters",
    "body_text",
    "sub_queue_name",
]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message to put on the question queue: its body as bytes, its id (the run's idempotency key)."""

    body: bytes
    message_id: str
    application_properties: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"

    @classmethod
    def for_question(cls, question: Question, *, message_id: str | None, traceparent: str | None) -> OutgoingMessage:
        props = {"traceparent": traceparent} if traceparent else {}
        body = question.model_dump_json(exclude_none=True).encode()
        return cls(
            body=body, message_id=message_id or question.request_id or uuid.uuid4().hex, application_properties=props
        )


class OriginalBody(BaseModel):
    """The body as it came: as text when it was UTF-8, else base64."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None
    base64: str | None = None

    @classmethod
    def of(cls, body: bytes) -> OriginalBody:
        try:
            return cls(text=body.decode("utf-8"))
        except UnicodeDecodeError:
            return cls(base64=base64.b64encode(body).decode("ascii"))


class DeadLetterEnvelope(BaseModel):
    """What the starter writes to the dead-letter queue for a message it cannot start: why, and the original."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # Service Bus's own property names on the wire; the field names in code.
    reason: str = Field(
        validation_alias=AliasChoices("DeadLetterReason", "reason"), serialization_alias="DeadLetterReason"
    )
    description: str = Field(
        default="",
        validation_alias=AliasChoices("DeadLetterErrorDescription", "description"),
        serialization_alias="DeadLetterErrorDescription",
    )
    message_id: str | None = None
    delivery_count: int | None = None
    enqueued_time_utc: datetime | None = None
    application_properties: dict[str, Any] = Field(default_factory=dict)
    # `OriginalBody` as the starter writes it; read back as whatever JSON the envelope holds, so a letter
    # written by another producer of the convention is still shown.
    body: OriginalBody | Any = None

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)

    @classmethod
    def read(cls, body: bytes) -> DeadLetterEnvelope | None:
        """The envelope in a dead-letter queue message, or None when the message is not one."""
        try:
            return cls.model_validate_json(body)
        except ValidationError:
            return None


class DeadLetterRow(BaseModel):
    """One dead letter as the views show it: where, which message, why, and its body."""

    model_config = ConfigDict(frozen=True)

    queue: str
    message_id: str | None
    reason: str
    description: str = ""
    delivery_count: int | None = None
    dead_lettered_at: float | None = Field(default=None, description="Unix time, when the source records it.")
    body: Any = None

    @classmethod
    def expired(
        cls,
        queue: str,
        message_id: str | None,
        body: bytes,
        *,
        reason: str | None,
        description: str | None,
        delivery_count: int | None,
        at: float | None = None,
    ) -> DeadLetterRow:
        """A message `queue` dead-lettered itself (deliveries used up), in its sub-queue; `Unknown` if no reason."""
        return cls(
            queue=sub_queue_name(queue),
            message_id=message_id,
            reason=reason or "Unknown",
            description=description or "",
            delivery_count=delivery_count,
            dead_lettered_at=at,
            body=body_text(body),
        )

    @classmethod
    def rejected(cls, queue: str, message_id: str | None, body: bytes, at: float | None = None) -> DeadLetterRow:
        """A message the starter moved to `queue`: its reason from the envelope (`Unknown` if it has none)."""
        envelope = DeadLetterEnvelope.read(body)
        if envelope is None:
            return cls(queue=queue, message_id=message_id, reason="Unknown", body=body_text(body), dead_lettered_at=at)
        return cls(
            queue=queue,
            message_id=envelope.message_id or message_id,
            reason=envelope.reason,
            description=envelope.description,
            delivery_count=envelope.delivery_count,
            dead_lettered_at=at,
            body=envelope.body.model_dump(exclude_none=True)
            if isinstance(envelope.body, OriginalBody)
            else envelope.body,
        )


def sub_queue_name(queue: str) -> str:
    """How the views name `queue`'s own dead-letter sub-queue (Service Bus's path to it)."""
    return f"{queue}/$deadletterqueue"


def body_text(body: bytes) -> str:
    """A body for display: its text when UTF-8, else hex."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.hex()


@dataclass(frozen=True)
class PeekedDeadLetters:
    """What the dead-letter places held, and a `{"queue", "error"}` for each one that could not be read."""

    items: list[DeadLetterRow] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
