"""What subscribers receive: CloudEvents types, deterministic ids and the Failed and Stale events' data.

The Completed event's data is a `Result`. Ids are derived from the instance id and the type,
so a publish repeated after a crash carries the same id and subscribers dedupe on source+id.
A Stale event's id also names the passages whose change made the answer stale, so the same
re-index always sends the same id, and a later change of another passage sends a new one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.errors import ErrorKind

__all__ = [
    "COMPLETED_EVENT_TYPE",
    "EVENT_TYPES",
    "FAILED_EVENT_TYPE",
    "STALE_EVENT_TYPE",
    "FailedEventData",
    "StaleEventData",
    "StalePassage",
    "event_id_for",
    "stale_event_id",
]

COMPLETED_EVENT_TYPE = "DurableAIPipeline.Answer.Completed"
FAILED_EVENT_TYPE = "DurableAIPipeline.Answer.Failed"
STALE_EVENT_TYPE = "DurableAIPipeline.Answer.Stale"
EVENT_TYPES = (COMPLETED_EVENT_TYPE, FAILED_EVENT_TYPE, STALE_EVENT_TYPE)

# Fixed namespace: changing it would change every event id and break subscribers' dedupe.
_EVENT_ID_NAMESPACE = uuid.UUID("6f2b0f4e-3c1a-5d7e-9b8a-2d4c6e8f0a1b")


def event_id_for(instance_id: str, event_type: str) -> str:
    """The one id an instance's event of this type ever has."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{instance_id}/{event_type}"))


class FailedEventData(BaseModel):
    """Why a run failed for good: the step, the kind of error, its message and attempts made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_id: str
    question: str
    step: str
    error_kind: ErrorKind
    message: str = Field(max_length=2000, description="What went wrong; never a stack trace.")
    attempts: int = Field(ge=1)
    metadata: dict[str, str] | None = None


def stale_event_id(instance_id: str, chunk_ids: Iterable[str]) -> str:
    """The id of the Stale event that the change of these cited passages (chunk ids) sends for an answer.

    Order-free, so the same re-index gives the same id whatever order it found the passages in.
    """
    passages = ",".join(sorted(set(chunk_ids)))
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{instance_id}/{STALE_EVENT_TYPE}/{passages}"))


class StalePassage(BaseModel):
    """A passage an answer cited that a re-index changed or removed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="The document the passage came from: a path or URL.")
    page: int | None = Field(default=None, ge=1, description="1-based page (slide) of a paginated source.")
    chunk_id: str = Field(description="The cited passage's id in the index (it no longer exists there).")
    change: Literal["changed", "deleted"] = Field(
        description="changed: the document was re-indexed without this passage's text; deleted: the document is gone."
    )


class StaleEventData(BaseModel):
    """An earlier answer cited passages that have changed or gone since: it may no longer be true."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_id: str = Field(description="The run whose answer is stale (the subject names it too).")
    question: str
    scopes: list[str] = Field(default_factory=list, description="The scopes the stale answer was found under.")
    passages: list[StalePassage] = Field(min_length=1, description="The cited passages that changed or went.")
    sources: list[str] = Field(description="The changed or deleted documents, each once, sorted.")
    detected_at: datetime = Field(description="When the re-index found the change (UTC).")
    superseded_by: str | None = Field(
        default=None,
        description="The run started to answer the question again (`pipeline index --reanswer`); its Completed "
        "event carries `metadata.supersedes` = this `instance_id`.",
    )
    metadata: dict[str, str] | None = Field(default=None, description="The stale run's request metadata.")
