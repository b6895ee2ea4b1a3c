"""The pipeline's metrics, recorded through the OpenTelemetry metrics API.

Instruments come from the global meter provider: a no-op until `configure_telemetry` installs an
SDK, so recording costs next to nothing when nothing is exported. They are created on first use
(never at import) and, because the API hands out proxies, keep working if a provider is set later.

Durations are in seconds (OpenTelemetry semantic conventions), with explicit bucket advice: the
SDK's default buckets are tuned for milliseconds and would put every step into the first two.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from opentelemetry import metrics
from opentelemetry.metrics import Counter, Histogram, Meter

__all__ = [
    "METER_NAME",
    "Outcome",
    "record_operation_duration",
    "record_run",
    "record_stale_answers",
    "record_step_attempt",
    "record_tokens",
]

METER_NAME = "durable_ai_pipeline"

# The GenAI semantic conventions' advice for `gen_ai.client.*` histograms.
_DURATION_BUCKETS_S = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]

Outcome = Literal["success", "failure"]


class _Instruments:
    """Every instrument of the pipeline, built together from one meter."""

    def __init__(self) -> None:
        meter = metrics.get_meter(METER_NAME)
        self.step_duration: Histogram = _seconds(
            meter, "pipeline.step.duration", "Duration of one step attempt, by step, outcome and error kind."
        )
        self.run_duration: Histogram = _seconds(
            meter, "pipeline.duration", "A completed run, from the starter's acceptance to its published event."
        )
        self.operation_duration: Histogram = _seconds(
            meter, "gen_ai.client.operation.duration", "Duration of one model call (GenAI semantic conventions)."
        )
        self.token_usage: Histogram = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Tokens used per model call, by token type (GenAI semantic conventions).",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.step_retries: Counter = meter.create_counter(
            "pipeline.step.retries",
            unit="{attempt}",
            description="Attempts of a step after its first (each one follows a failed attempt).",
        )
        self.runs: Counter = meter.create_counter(
            "pipeline.runs",
            unit="{run}",
            description="Runs whose outcome was published, by outcome, failed step and error kind.",
        )
        self.stale_answers: Counter = meter.create_counter(
            "pipeline.answers.stale",
            unit="{answer}",
            description="Answers told stale (a Stale event published), by the source that changed.",
        )


def _seconds(meter: Meter, name: str, description: str) -> Histogram:
    """A duration histogram: seconds, with the GenAI conventions' buckets (the SDK's default is for milliseconds)."""
    return meter.create_histogram(
        name, unit="s", description=description, explicit_bucket_boundaries_advisory=_DURATION_BUCKETS_S
    )


@lru_cache(maxsize=1)
def instruments() -> _Instruments:
    return _Instruments()


def record_step_attempt(
    step: str, *, attempt: int, seconds: float, outcome: Outcome, error_kind: str | None = None
) -> None:
    """One attempt of a step ended: its duration, and a retry if it was not the first attempt."""
    attributes: dict[str, str] = {"pipeline.step": step, "pipeline.outcome": outcome}
    if error_kind:
        attributes["error.type"] = error_kind
    instruments().step_duration.record(seconds, attributes)
    if attempt > 1:
        instruments().step_retries.add(1, {"pipeline.step": step})


def record_run(
    *, completed: bool, step: str | None = None, error_kind: str | None = None, seconds: float | None = None
) -> None:
    """A run's outcome was published: count it, and for a completed run record its duration."""
    attributes: dict[str, str] = {"pipeline.outcome": "completed" if completed else "failed"}
    if step:
        attributes["pipeline.step"] = step
    if error_kind:
        attributes["error.type"] = error_kind
    instruments().runs.add(1, attributes)
    if seconds is not None:
        instruments().run_duration.record(seconds, {"pipeline.outcome": attributes["pipeline.outcome"]})


def record_stale_answers(source: str) -> None:
    """A Stale event went out for an answer that cited `source` (counted once per source it names)."""
    instruments().stale_answers.add(1, {"pipeline.source": source})


def record_tokens(attributes: dict[str, str], *, input_tokens: int, output_tokens: int) -> None:
    """Token usage of one model call; nothing is recorded for a count the model did not report."""
    for token_type, count in (("input", input_tokens), ("output", output_tokens)):
        if count > 0:
            instruments().token_usage.record(count, {**attributes, "gen_ai.token.type": token_type})


def record_operation_duration(attributes: dict[str, str], seconds: float) -> None:
    instruments().operation_duration.record(seconds, attributes)
