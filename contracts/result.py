"""The Result: the orchestration's output and the data of the Completed event."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Citation", "Result", "Usage"]


class Usage(BaseModel):
    """Tokens spent, where the model reports them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class Citation(BaseModel):
    """A passage the answer relies on, with the words quoted from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Passage (chunk) id in the index.")
    title: str
    source: str = Field(description="Where the passage comes from: a path or URL.")
    score: float = Field(description="Retrieval score (higher is better).")
    quote: str = Field(description="The snippet of the passage the answer draws on.")
    page: int | None = Field(
        default=None,
        ge=1,
        description="1-based physical page of a paginated source (what `file.pdf#page=N` opens; slide number of "
        "a deck); null for a source without pages.",
    )


class Result(BaseModel):
    """A completed run: the answer, what it cites, which models served it and how long each step took."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_id: str
    question: str
    answer: str
    citations: list[Citation]
    models: dict[str, str] = Field(description="Model or provider that served each step.")
    timings_ms: dict[str, float] = Field(description="Duration of the successful attempt of each step.")
    elapsed_ms: float | None = Field(
        default=None, description="From acceptance to the answer: queueing, retries and backoff included."
    )
    usage: Usage = Field(default_factory=Usage)
    metadata: dict[str, str] | None = None
    scopes: list[str] = Field(
        default_factory=list, description="The document scopes the run searched under ([]: unscoped documents only)."
    )
    confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        exclude_if=lambda v: v is None,  # absent when unknown: it travels through history three times
        description="The answerer's probability that the passages answer the question (the local answerer's, "
        "calibrated on the development sets; it refuses below its threshold); null when the generator cannot say "
        "(a chat model), and then left out.",
    )
