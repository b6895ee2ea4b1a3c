"""The Question: the body of `POST /api/pipeline/start` and of a queue message."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from contracts.scopes import MAX_SCOPES, ScopeName, normalise_scopes

__all__ = ["MAX_METADATA_ENTRIES", "Question"]

MAX_METADATA_ENTRIES = 16

RequestId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=256)]


class Question(BaseModel):
    """A question a producer asks; unknown fields are rejected so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] = Field(
        description="The question, 1..2000 characters after trimming.",
        examples=["How does the pipeline retry a failed step?"],
    )
    top_k: StrictInt = Field(default=3, ge=1, le=20, description="How many passages to retrieve (an integer, not 3.0).")
    request_id: RequestId | None = Field(
        default=None,
        description="Caller's idempotency key; becomes the instance id, so a repeat never runs twice.",
    )
    metadata: dict[MetadataKey, MetadataValue] | None = Field(
        default=None, description=f"At most {MAX_METADATA_ENTRIES} caller-defined string pairs, echoed in events."
    )
    scopes: list[ScopeName] | None = Field(
        default=None,
        max_length=MAX_SCOPES,
        description=(
            "The document scopes this request may read. Documents indexed without scopes are visible to every "
            "request; a scoped document only to requests carrying one of its scopes. Null or [] sees only "
            "unscoped documents. Names match exactly; there is no wildcard."
        ),
        examples=[["team:finance"]],
    )

    @field_validator("question")
    @classmethod
    def _printable(cls, value: str) -> str:
        # Control characters (NUL above all) are never part of a question and break downstream tools.
        if any((ord(ch) < 32 and ch not in "\t\n\r") or ord(ch) == 127 for ch in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("metadata")
    @classmethod
    def _bounded_metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and len(value) > MAX_METADATA_ENTRIES:
            raise ValueError(f"at most {MAX_METADATA_ENTRIES} entries allowed, got {len(value)}")
        return value

    @field_validator("scopes")
    @classmethod
    def _canonical_scopes(cls, value: list[str] | None) -> list[str] | None:
        # One form (sorted, no repeats) so the same request always filters, and replays, the same way.
        return None if value is None else list(normalise_scopes(value))
