"""`pipeline_orchestrator`: embed the question, search, answer, publish; publish a Failed event on failure.

Deterministic by construction: everything it knows comes from its input and from step results
replayed out of history; every side effect happens in an activity.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from contracts import (
    FailedEventData,
    GeneratedAnswer,
    PipelineInput,
    PublishedEvent,
    QueryEmbedding,
    Result,
    SearchResults,
    StepName,
)
from orchestration.retry import RetryTally, StepFailed, call_step

__all__ = ["ORCHESTRATOR_NAME", "PipelineFailed", "bp"]

ORCHESTRATOR_NAME = "pipeline_orchestrator"

bp = df.Blueprint()


class PipelineFailed(Exception):
    """Ends the orchestration as Failed once the Failed event has been published."""


@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR_NAME)
def pipeline_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    run = PipelineInput.model_validate(context.get_input())
    question = run.question
    # The request's scopes travel in each reading step's input, so the history shows what every step saw.
    scopes = list(question.scopes or [])
    common = {"instance_id": context.instance_id, "traceparent": run.traceparent}
    accepted = {"accepted_at": run.accepted_at.isoformat()} if run.accepted_at else {}

    tally = RetryTally()

    def step(name: StepName, payload: dict[str, Any]) -> Generator[Any, Any, Any]:
        return call_step(context, name, {**common, **payload}, run.retry_for(name), tally)

    try:
        embedding = QueryEmbedding.model_validate(
            (yield from step(StepName.EMBED_QUERY, {"question": question.question}))
        )
        search = SearchResults.model_validate(
            (
                yield from step(
                    StepName.SEARCH_DOCUMENTS,
                    {
                        "question": question.question,
                        "embedding": embedding.model_dump(mode="json", exclude={"duration_ms", "input_tokens"}),
                        "top_k": question.top_k,
                        "scopes": scopes,
                    },
                )
            )
        )
        generated = GeneratedAnswer.model_validate(
            (
                yield from step(
                    StepName.GENERATE_ANSWER,
                    {
                        "question": question.question,
                        "passages": [{"id": hit.id, "score": hit.score} for hit in search.hits],
                        "scopes": scopes,
                    },
                )
            )
        )
        result = Result(
            instance_id=context.instance_id,
            question=question.question,
            answer=generated.answer,
            citations=generated.citations,
            models={
                StepName.EMBED_QUERY: embedding.model,
                StepName.SEARCH_DOCUMENTS: search.retriever,
                StepName.GENERATE_ANSWER: generated.model,
            },
            timings_ms={
                StepName.EMBED_QUERY: embedding.duration_ms,
                StepName.SEARCH_DOCUMENTS: search.duration_ms,
                StepName.GENERATE_ANSWER: generated.duration_ms,
            },
            elapsed_ms=_elapsed_ms(context, run),
            usage=generated.usage.model_copy(
                update={"input_tokens": generated.usage.input_tokens + embedding.input_tokens}
            ),
            metadata=question.metadata,
            scopes=scopes,
            confidence=generated.confidence,
        )
        published = yield from step(StepName.PUBLISH_RESULT, {"result": result.model_dump(mode="json"), **accepted})
    except StepFailed as failed:
        yield from _publish_failure(context, run, failed, {**common, **accepted}, tally)
        raise PipelineFailed(str(failed)) from None

    context.set_custom_status({"step": StepName.PUBLISH_RESULT.value, "done": True, **tally.status()})
    # The event carried the result as it stood before publishing; the run's output adds how long that took,
    # so every step has a duration where runs are compared (the monitor's step table, `pipeline status`).
    publish_ms = PublishedEvent.model_validate(published).duration_ms
    timings = {**result.timings_ms, StepName.PUBLISH_RESULT.value: publish_ms}
    return result.model_copy(update={"timings_ms": timings}).model_dump(mode="json")


def _elapsed_ms(context: df.DurableOrchestrationContext, run: PipelineInput) -> float | None:
    """Acceptance to now on the orchestration's replay-safe clock (the current episode's start)."""
    if run.accepted_at is None:
        return None
    now = context.current_utc_datetime
    accepted = run.accepted_at if run.accepted_at.tzinfo else run.accepted_at.replace(tzinfo=now.tzinfo)
    return round(max(0.0, (now - accepted).total_seconds() * 1000), 3)


def _publish_failure(
    context: df.DurableOrchestrationContext,
    run: PipelineInput,
    failed: StepFailed,
    common: dict[str, Any],
    tally: RetryTally,
) -> Generator[Any, Any, None]:
    """Tell subscribers the run failed; if even that fails, the orchestration's own failure says why."""
    data = FailedEventData(
        instance_id=context.instance_id,
        question=run.question.question,
        step=failed.step.value,
        error_kind=failed.error.kind,
        message=failed.error.message[:2000],
        attempts=failed.attempts,
        metadata=run.question.metadata,
    )
    if failed.step is not StepName.PUBLISH_RESULT:  # else the publisher itself is down: status is all we have
        with contextlib.suppress(StepFailed):  # the orchestration's own failure still tells why
            yield from call_step(
                context,
                StepName.PUBLISH_RESULT,
                {**common, "failure": data.model_dump(mode="json")},
                run.retry_for(StepName.PUBLISH_RESULT),
                tally,
            )
    context.set_custom_status({"step": failed.step.value, "attempt": failed.attempts, "failed": True, **tally.status()})
