"""Inputs and outputs of the four activities.

History stays small by design: the query vector travels int8-quantised (about a quarter of
float32 text), search returns passage ids with their titles and scores, and the answer step
reads passage text from the index by id instead of receiving it through the orchestration.
"""

from __future__ import annotations

import base64
import math
from array import array
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.events import FailedEventData
from contracts.result import Citation, Result, Usage
from contracts.scopes import MAX_SCOPES, ScopeName

__all__ = [
    "EmbedQueryInput",
    "GenerateAnswerInput",
    "GeneratedAnswer",
    "PassageRef",
    "PublishResultInput",
    "PublishedEvent",
    "QueryEmbedding",
    "SearchDocumentsInput",
    "SearchHit",
    "SearchResults",
    "StepInput",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepInput(_Model):
    """What every activity gets besides its payload: who runs it, which attempt, which trace."""

    instance_id: str
    attempt: int = Field(default=1, ge=1)
    traceparent: str | None = None


class EmbedQueryInput(StepInput):
    question: str


class QueryEmbedding(_Model):
    """A query vector, int8-quantised with one scale (symmetric), base64 encoded.

    Quantising a single query vector changes cosine scores by well under 1 %, while it keeps a
    1536-dimension vector to about 2 KB of history instead of ~30 KB of float text.
    """

    model: str
    dimensions: int = Field(ge=1)
    encoding: Literal["int8-base64"] = "int8-base64"
    scale: float = Field(ge=0)
    data: str
    input_tokens: int = 0
    duration_ms: float = 0.0

    @classmethod
    def from_vector(
        cls, vector: Sequence[float], *, model: str, input_tokens: int = 0, duration_ms: float = 0.0
    ) -> QueryEmbedding:
        peak = max((abs(v) for v in vector), default=0.0)
        if not math.isfinite(peak):
            raise ValueError("embedding contains a non-finite value")
        scale = peak / 127.0 if peak else 0.0
        quantised = array("b", (round(v / scale) if scale else 0 for v in vector))
        return cls(
            model=model,
            dimensions=len(vector),
            scale=scale,
            data=base64.b64encode(quantised.tobytes()).decode("ascii"),
            input_tokens=input_tokens,
            duration_ms=duration_ms,
        )

    def vector(self) -> list[float]:
        """The dequantised vector, ready for a similarity search."""
        raw = array("b")
        raw.frombytes(base64.b64decode(self.data))
        if len(raw) != self.dimensions:
            raise ValueError(f"embedding has {len(raw)} values, expected {self.dimensions}")
        return [v * self.scale for v in raw]


def _scopes_field() -> Any:
    return Field(
        default_factory=list,
        max_length=MAX_SCOPES,
        description="The run's scopes; empty sees only unscoped documents (as in runs started before scopes).",
    )


class SearchDocumentsInput(StepInput):
    question: str
    embedding: QueryEmbedding
    top_k: int = Field(ge=1, le=20)
    scopes: list[ScopeName] = _scopes_field()


class SearchHit(_Model):
    """One retrieved passage by reference; its text stays in the index (see `GenerateAnswerInput`)."""

    id: str
    title: str
    source: str
    score: float
    # 1-based page (slide) of a paginated source; left out of history when there is none (most hits)
    page: int | None = Field(default=None, exclude_if=lambda page: page is None)


class SearchResults(_Model):
    hits: list[SearchHit]
    retriever: str
    duration_ms: float = 0.0


class PassageRef(_Model):
    """A retrieved passage by reference: the answer step reads its text from the index."""

    id: str
    score: float


class GenerateAnswerInput(StepInput):
    question: str
    passages: list[PassageRef]
    scopes: list[ScopeName] = _scopes_field()  # the passages are read back under the same scopes


class GeneratedAnswer(_Model):
    answer: str
    citations: list[Citation]
    model: str
    usage: Usage = Field(default_factory=Usage)
    duration_ms: float = 0.0
    # Left out of history when unknown: every byte of a run's history is read back on each replay.
    confidence: float | None = Field(default=None, ge=0, le=1, exclude_if=lambda v: v is None)


class PublishResultInput(StepInput):
    """Exactly one of `result` (Completed) or `failure` (Failed) is set."""

    result: Result | None = None
    failure: FailedEventData | None = None
    accepted_at: datetime | None = None  # for the run's end-to-end duration metric


class PublishedEvent(_Model):
    event_id: str
    type: str
    destination: str
    duration_ms: float = 0.0
