"""The orchestration's input and the names of its steps."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.question import Question

__all__ = ["PipelineInput", "RetryPolicy", "StepName"]


class StepName(StrEnum):
    """The pipeline's steps, in order; each is an activity function of the same name."""

    EMBED_QUERY = "embed_query"
    SEARCH_DOCUMENTS = "search_documents"
    GENERATE_ANSWER = "generate_answer"
    PUBLISH_RESULT = "publish_result"


class RetryPolicy(BaseModel):
    """How one step is retried: exponential backoff between attempts, capped, bounded in attempts.

    Fixed when the run starts (it travels in the orchestration input), so a settings change
    never alters a run in flight and replays stay deterministic.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=3, ge=1, le=20)
    first_interval_ms: int = Field(default=1000, ge=0, le=3_600_000)
    backoff_coefficient: float = Field(default=2.0, ge=1.0, le=10.0)
    max_interval_ms: int = Field(default=30_000, ge=0, le=3_600_000)
    # 401/403 are retried (with the same backoff) until this long after the step's first attempt:
    # right after deployment, role assignments take minutes to apply.
    access_denied_window_ms: int = Field(default=0, ge=0, le=86_400_000)

    def delay_ms(self, failed_attempt: int, retry_after_s: float | None = None) -> int:
        """Wait before the attempt after `failed_attempt`; a service's Retry-After wins if longer."""
        backoff = self.first_interval_ms * self.backoff_coefficient ** (failed_attempt - 1)
        delay = min(backoff, self.max_interval_ms)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s * 1000, self.max_interval_ms))
        return int(delay)


class PipelineInput(BaseModel):
    """What a starter hands the orchestrator: the question and the trace it continues."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: Question
    traceparent: str | None = Field(default=None, description="W3C trace context of the producer's trace.")
    source: str = Field(default="http", description="Which starter accepted the question: http or queue.")
    accepted_at: datetime | None = Field(default=None, description="When the starter accepted the question (UTC).")
    retry: dict[StepName, RetryPolicy] = Field(default_factory=dict, description="Per-step policy; default if absent.")

    def retry_for(self, step: StepName) -> RetryPolicy:
        return self.retry.get(step) or RetryPolicy()
