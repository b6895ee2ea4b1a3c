"""What subscribers receive: CloudEvents types, deterministic ids and the Failed event's data.

The Completed event's data is a `Result`. Ids are derived from the instance id and the type,
so a publish repeated after a crash carries the same id and subscribers dedupe on source+id.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from contracts.errors import ErrorKind

__all__ = ["COMPLETED_EVENT_TYPE", "FAILED_EVENT_TYPE", "FailedEventData", "event_id_for"]

COMPLETED_EVENT_TYPE = "DurableAIPipeline.Answer.Completed"
FAILED_EVENT_TYPE = "DurableAIPipeline.Answer.Failed"

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
