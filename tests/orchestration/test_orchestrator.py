"""The orchestrator replayed by the SDK itself, episode by episode, against scripted activities."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activities._step import ActivityFailed
from contracts import (
    Citation,
    ErrorKind,
    GeneratedAnswer,
    PipelineInput,
    PublishedEvent,
    QueryEmbedding,
    Question,
    RetryPolicy,
    SearchHit,
    SearchResults,
    StepError,
    StepName,
    Usage,
)
from embedded_host.durable.history import EventType
from orchestration.orchestrator import ORCHESTRATOR_NAME, pipeline_orchestrator
from tests.durable_replay import ReplayDriver, extension_failure

HANDLE = pipeline_orchestrator._function._func


def _embedding(dims: int = 8) -> dict[str, Any]:
    rng = random.Random(7)
    return QueryEmbedding.from_vector(
        [rng.uniform(-1, 1) for _ in range(dims)], model="emb", input_tokens=5
    ).model_dump(mode="json")


def _hits(n: int) -> list[SearchHit]:
    return [
        SearchHit(
            id=f"doc-{i}#chunk-{i}",
            title=f"Document {i}: a section title",
            source=f"corpus/document-{i}.md",
            score=0.03 - i * 0.001,
        )
        for i in range(n)
    ]


def happy_activities(hit_count: int = 2, dims: int = 8) -> dict[str, Callable[[Any], Any]]:
    def search(payload: dict[str, Any]) -> dict[str, Any]:
        return SearchResults(hits=_hits(min(hit_count, payload["top_k"])), retriever="idx").model_dump(mode="json")

    def generate(payload: dict[str, Any]) -> dict[str, Any]:
        hits = {h.id: h for h in _hits(20)}
        citations = [
            Citation(
                id=p["id"],
                title=hits[p["id"]].title,
                source=hits[p["id"]].source,
                score=p["score"],
                quote=f"The sentence quoted from passage {p['id']}, of a typical length for a quote. " * 2,
            )
            for p in payload["passages"]
        ]
        text = " ".join(
            f"A sentence drawn from passage {i + 1} of the corpus [{i + 1}]." for i in range(len(citations))
        )
        return GeneratedAnswer(
            answer=text, citations=citations, model="gen", usage=Usage(input_tokens=10, output_tokens=3)
        ).model_dump(mode="json")

    def publish(payload: dict[str, Any]) -> dict[str, Any]:
        kind = "Completed" if payload.get("result") else "Failed"
        return PublishedEvent(event_id="e", type=kind, destination="test").model_dump(mode="json")

    return {
        StepName.EMBED_QUERY: lambda payload: _embedding(dims),
        StepName.SEARCH_DOCUMENTS: search,
        StepName.GENERATE_ANSWER: generate,
        StepName.PUBLISH_RESULT: publish,
    }


def failing(
    kind: ErrorKind,
    times: int,
    then: Callable[[Any], Any] | None = None,
    retry_after_s: float | None = None,
    access_denied: bool = False,
):
    """An activity that fails `times` times with `kind`, then behaves like `then`."""
    state = {"calls": 0}

    def activity(payload: Any) -> Any:
        state["calls"] += 1
        if state["calls"] <= times or then is None:
            error = StepError(
                kind=kind, message=f"boom {state['calls']}", retry_after_s=retry_after_s, access_denied=access_denied
            )
            raise ActivityFailed(error)
        return then(payload)

    activity.state = state  # type: ignore[attr-defined]
    return activity


def run_input(top_k: int = 2, policy: RetryPolicy | None = None) -> dict[str, Any]:
    policy = policy or RetryPolicy(max_attempts=3, first_interval_ms=1000, backoff_coefficient=2.0)
    return PipelineInput(
        question=Question(question="How are steps retried?", top_k=top_k, metadata={"team": "a"}),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        retry={step: policy for step in StepName},
        accepted_at=datetime(2025, 12, 31, 23, 59, 58, tzinfo=UTC),  # the driver's clock starts 2 s later
    ).model_dump(mode="json")


def test_completes_with_a_result_built_from_every_step() -> None:
    outcome = ReplayDriver(HANDLE, happy_activities()).run(ORCHESTRATOR_NAME, run_input())

    assert outcome.done and outcome.error is None
    assert [name for name, _ in outcome.calls] == [s.value for s in StepName]
    result = outcome.output
    assert result["instance_id"] == "test-instance"
    assert result["answer"].endswith("[2].")
    assert [c["id"] for c in result["citations"]] == ["doc-0#chunk-0", "doc-1#chunk-1"]
    assert result["models"] == {"embed_query": "emb", "search_documents": "idx", "generate_answer": "gen"}
    assert result["usage"] == {"input_tokens": 15, "output_tokens": 3}
    assert result["metadata"] == {"team": "a"}
    published = outcome.calls[-1][1]
    # The event carries the result as it stood when published; the output adds the publish step's own time.
    assert set(result["timings_ms"]) == {s.value for s in StepName}
    assert published["result"] == {
        **result,
        "timings_ms": {k: v for k, v in result["timings_ms"].items() if k != "publish_result"},
    }
    assert all(p["attempt"] == 1 and p["traceparent"].startswith("00-0af7") for _, p in outcome.calls)
    assert outcome.custom_status == {"step": "publish_result", "done": True}
    # Acceptance to the answer on the orchestration's clock; publish gets the start for the run metric.
    assert result["elapsed_ms"] >= 2000
    assert published["accepted_at"].startswith("2025-12-31T23:59:58")


def test_the_requests_scopes_reach_both_reading_steps_the_history_and_the_result() -> None:
    run = run_input()
    run["question"]["scopes"] = ["team:b", "team:a"]  # as a starter hands it over (the model sorts them)
    outcome = ReplayDriver(HANDLE, happy_activities()).run(ORCHESTRATOR_NAME, run)

    inputs = dict(outcome.calls)
    assert inputs["search_documents"]["scopes"] == ["team:a", "team:b"]
    assert inputs["generate_answer"]["scopes"] == ["team:a", "team:b"]  # the claim check reads under them too
    assert "scopes" not in inputs["embed_query"]
    assert outcome.output["scopes"] == ["team:a", "team:b"]
    scheduled = [json.loads(ev["Input"]) for ev in outcome.history if ev["EventType"] == EventType.TaskScheduled]
    assert [p.get("scopes") for p in scheduled[1:3]] == [["team:a", "team:b"]] * 2  # what a replay or audit reads


def test_a_run_without_scopes_searches_unscoped_documents_only() -> None:
    outcome = ReplayDriver(HANDLE, happy_activities()).run(ORCHESTRATOR_NAME, run_input())
    inputs = dict(outcome.calls)
    assert inputs["search_documents"]["scopes"] == [] and inputs["generate_answer"]["scopes"] == []
    assert outcome.output["scopes"] == []


def test_elapsed_time_includes_retry_backoff() -> None:
    activities = happy_activities()
    activities[StepName.GENERATE_ANSWER] = failing(ErrorKind.TRANSIENT, 2, then=activities[StepName.GENERATE_ANSWER])
    outcome = ReplayDriver(HANDLE, activities).run(ORCHESTRATOR_NAME, run_input())
    assert outcome.output["elapsed_ms"] >= 2000 + 1000 + 2000  # before the start, then two backoffs


def test_transient_failure_is_retried_after_a_durable_timer() -> None:
    activities = happy_activities()
    flaky = failing(ErrorKind.TRANSIENT, times=2, then=activities[StepName.GENERATE_ANSWER])
    activities[StepName.GENERATE_ANSWER] = flaky
    driver = ReplayDriver(HANDLE, activities)

    outcome = driver.run(ORCHESTRATOR_NAME, run_input())

    assert outcome.done
    attempts = [p["attempt"] for name, p in outcome.calls if name == StepName.GENERATE_ANSWER]
    assert attempts == [1, 2, 3]
    # backoff 1 s then 2 s, measured from the orchestration clock at each failure
    gaps = [t2 - t1 for t1, t2 in zip(outcome.timers, outcome.timers[1:], strict=False)]
    assert len(outcome.timers) == 2 and gaps[0].total_seconds() >= 2.0
    # The monitor's runs list tells a retried run from a clean one by the count the run keeps.
    assert outcome.custom_status == {"step": "publish_result", "done": True, "retries": 2}


def test_retry_after_from_the_service_lengthens_the_wait() -> None:
    activities = happy_activities()
    activities[StepName.EMBED_QUERY] = failing(
        ErrorKind.TRANSIENT, times=1, then=activities[StepName.EMBED_QUERY], retry_after_s=7
    )
    outcome = ReplayDriver(HANDLE, activities).run(ORCHESTRATOR_NAME, run_input())
    assert outcome.done
    history_start = outcome.history[0]["Timestamp"]
    waited = outcome.timers[0] - __import__("datetime").datetime.fromisoformat(history_start.replace("Z", "+00:00"))
    assert waited.total_seconds() >= 7


def test_a_retry_after_longer_than_the_maximum_interval_is_capped_at_it() -> None:
    """A service asking for 10 minutes does not hold the run for 10 minutes: the policy's maximum interval
    (8 s here) bounds every wait, Retry-After included (README: "Retry-After honoured up to the cap")."""
    activities = happy_activities()
    activities[StepName.EMBED_QUERY] = failing(
        ErrorKind.TRANSIENT, times=1, then=activities[StepName.EMBED_QUERY], retry_after_s=600
    )
    policy = RetryPolicy(max_attempts=3, first_interval_ms=1000, backoff_coefficient=2.0, max_interval_ms=8000)
    outcome = ReplayDriver(HANDLE, activities).run(ORCHESTRATOR_NAME, run_input(policy=policy))
    assert outcome.done
    created = next(n for n, e in enumerate(outcome.history) if e["EventType"] == EventType.TimerCreated)
    episode_start = next(  # the orchestration clock when it chose the wait
        e["Timestamp"] for e in reversed(outcome.history[:created]) if e["EventType"] == EventType.OrchestratorStarted
    )
    waited = (outcome.timers[0] - datetime.fromisoformat(episode_start.replace("Z", "+00:00"))).total_seconds()
    assert waited == 8.0, waited
    assert policy.delay_ms(1, retry_after_s=600) == 8000 and policy.delay_ms(1, retry_after_s=5) == 5000


def test_permanent_failure_is_not_retried_and_publishes_a_failed_event() -> None:
    activities = happy_activities()
    activities[StepName.SEARCH_DOCUMENTS] = failing(ErrorKind.REJECTED, times=99)

    outcome = ReplayDriver(HANDLE, activities).run(ORCHESTRATOR_NAME, run_input())

    assert not outcome.done and outcome.error
    assert "search_documents failed after 1 attempt(s) (rejected)" in outcome.error
    assert activities[StepName.SEARCH_DOCUMENTS].state["calls"] == 1
    assert outcome.timers == []
    name, payload = outcome.calls[-1]
    assert name == StepName.PUBLISH_RESULT and "result" not in payload
    failure = payload["failure"]
    assert failure["step"] == "search_documents"
    assert failure["error_kind"] == "rejected"
    assert failure["attempts"] == 1
    assert failure["message"] == "boom 1"
    assert "Traceback" not in str(failure)
    assert outcome.custom_status == {"step": "search_documents", "attempt": 1, "failed": True}


def test_exhausted_retries_fail_with_the_attempt_count() -> None:
    activities = happy_activities()
    activities[StepName.EMBED_QUERY] = failing(ErrorKind.TRANSIENT, times=99)

    outcome = ReplayDriver(HANDLE, activities).run(ORCHESTRATOR_NAME, run_input())

    assert "embed_query failed after 3 attempt(s) (transient)" in outcome.error
    assert activities[StepName.EMBED_QUERY].state["calls"] == 3
    assert len(outcome.timers) == 2
    failure = outcome.calls[-1][1]["failure"]
    assert (failure["step"], failure["attempts"], failure["error_kind"]) == ("embed_query", 3, "transient")
    assert outcome.custom_status == {"step": "embed_query", "attempt": 3, "failed": True, "retries": 2}


def _denied_policy(window_ms: int) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=3, first_interval_ms=1000, max_interval_ms=10_000, access_denied_window_ms=window_ms
    )


def test_access_denied_is_retried_while_roles_may_still_be_applying() -> None:
    activities = happy_activities()
    activities[StepName.EMBED_QUERY] = failing(
        ErrorKind.CONFIGURATION, times=6, then=activities[StepName.EMBED_QUERY], access_denied=True
    )
    outcome = ReplayDriver(HANDLE, activities).run(ORCHESTRATOR_NAME, run_input(policy=_denied_policy(120_000)))
    assert outcome.done  # 7 attempts: more than max_attempts, inside the two-minute window
    assert activities[StepName.EMBED_QUERY].state["calls"] == 7


def test_access_denied_fails_once_the_window_has_passed() -> None:
    activities = happy_activities()
    activities[StepName.EMBED_QUERY] = failing(ErrorKind.CONFIGURATION, times=99, access_denied=True)
    outcome = ReplayDriver(HANDLE, activities).run(ORCHESTRATOR_NAME, run_input(policy=_denied_policy(60_000)))
    # waits 1, 2, 4, 8, then 10 s each: the ninth attempt fails at 55 s (inside the window), the tenth at 65 s
    assert "embed_query failed after 10 attempt(s) (configuration)" in outcome.error
    waited = outcome.timers[-1] - outcome.timers[0]
    assert waited.total_seconds() >= 40
    # without a window (runs started before it existed), an access denied is not retried
    activities[StepName.EMBED_QUERY] = failing(ErrorKind.CONFIGURATION, times=99, access_denied=True)
    outcome = ReplayDriver(HANDLE, activities).run(ORCHESTRATOR_NAME, run_input(policy=_denied_policy(0)))
    assert "embed_query failed after 1 attempt(s)" in outcome.error


def test_an_unexpected_exception_counts_as_internal_and_is_retried() -> None:
    activities = happy_activities()
    calls = {"n": 0}
    good = activities[StepName.SEARCH_DOCUMENTS]

    def crashes_once(payload: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker lost")
        return good(payload)

    activities[StepName.SEARCH_DOCUMENTS] = crashes_once
    outcome = ReplayDriver(HANDLE, activities).run(ORCHESTRATOR_NAME, run_input())
    assert outcome.done and calls["n"] == 2


def test_publish_failure_fails_the_run_without_a_second_publish() -> None:
    activities = happy_activities()
    activities[StepName.PUBLISH_RESULT] = failing(ErrorKind.TRANSIENT, times=99)
    outcome = ReplayDriver(HANDLE, activities).run(ORCHESTRATOR_NAME, run_input())
    assert "publish_result failed after 3 attempt(s)" in outcome.error
    assert activities[StepName.PUBLISH_RESULT].state["calls"] == 3


@pytest.mark.parametrize("top_k", [5])
def test_history_stays_small_with_1536_dimensions(top_k: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Target: under 16 KB of history per run (1536-dimension vectors, top_k=5)."""
    outcome = ReplayDriver(HANDLE, happy_activities(hit_count=top_k, dims=1536)).run(
        ORCHESTRATOR_NAME, run_input(top_k=top_k)
    )
    assert outcome.done
    size = outcome.history_bytes()
    with capsys.disabled():
        print(f"\nhistory per run (1536 dims, top_k={top_k}): {size} bytes in {len(outcome.history)} events")
    assert size < 16 * 1024


def test_failures_in_the_real_extensions_shape_are_read_back_exactly() -> None:
    # Reason "Activity function '<name>' failed: <message>", Details the exception as JSON (TaskActivityShim).
    activities = happy_activities()
    message = 'HTTP 429: rate "limited" [quota]'
    activities[StepName.GENERATE_ANSWER] = failing(
        ErrorKind.TRANSIENT, times=1, then=activities[StepName.GENERATE_ANSWER], retry_after_s=5
    )
    activities[StepName.SEARCH_DOCUMENTS] = failing(
        ErrorKind.TRANSIENT, times=1, then=happy_activities()[StepName.SEARCH_DOCUMENTS]
    )

    def rejected(payload: Any) -> Any:
        raise ActivityFailed(StepError(kind=ErrorKind.REJECTED, message=message))

    outcome = ReplayDriver(HANDLE, activities, failure=extension_failure).run(ORCHESTRATOR_NAME, run_input())
    assert outcome.done  # transient failures in that shape were retried
    generate_timer = outcome.timers[-1]
    assert generate_timer - outcome.timers[0] >= __import__("datetime").timedelta(seconds=5)  # retry_after read back

    activities[StepName.EMBED_QUERY] = rejected
    outcome = ReplayDriver(HANDLE, activities, failure=extension_failure).run(ORCHESTRATOR_NAME, run_input())
    failure = outcome.calls[-1][1]["failure"]
    assert (failure["error_kind"], failure["attempts"], failure["message"]) == ("rejected", 1, message)


# A TaskFailed event as the Durable extension hands it to the Python SDK when the task hub is on the Durable
# Task Scheduler: DTS keeps a failure only as gRPC failure details, and the extension's conversion back
# (durabletask-dotnet ProtoUtils.ConvertHistoryEvent) sets Reason and Details to null and FailureDetails to
# DurableTask.Core's FailureDetails, with the activity's RpcException inside the host's
# FunctionInvocationException. The SDK raises it as "None \n None". Its marker says `configuration`.
DTS_TASK_FAILED = json.loads(Path(__file__).with_name("dts_task_failed.json").read_text())


def _camel(details: Any) -> Any:
    """The same failure in the gRPC `TaskFailureDetails` JSON spelling (errorType, errorMessage, innerFailure)."""
    if not isinstance(details, dict):
        return details
    return {key[0].lower() + key[1:]: _camel(value) for key, value in details.items()}


@pytest.mark.parametrize("spelling", ["extension", "grpc-json"])
def test_a_configuration_error_on_the_durable_task_scheduler_is_not_retried_as_internal(spelling: str) -> None:
    details = DTS_TASK_FAILED["FailureDetails"]
    if spelling == "grpc-json":
        details = _camel(details)

    def dts_failure(name: str, exc: BaseException) -> dict[str, Any]:
        return {"Reason": None, "Details": None, "FailureDetails": details}

    activities = happy_activities()
    activities[StepName.EMBED_QUERY] = failing(ErrorKind.CONFIGURATION, times=99)
    outcome = ReplayDriver(HANDLE, activities, failure=dts_failure).run(ORCHESTRATOR_NAME, run_input())

    assert activities[StepName.EMBED_QUERY].state["calls"] == 1 and outcome.timers == []
    assert "embed_query failed after 1 attempt(s) (configuration)" in (outcome.error or "")
    failure = outcome.calls[-1][1]["failure"]
    assert failure["error_kind"] == "configuration"
    assert failure["message"].startswith("Azure OpenAI deployment 'text-embedding-3-small' was not found")


def test_a_failure_without_any_detail_is_internal_with_a_readable_message() -> None:
    # What the SDK raises when a TaskFailed has neither text nor details: retried, never shown as "None".
    error = StepError.from_failure("None \n None", None)
    assert (error.kind, error.message) == (ErrorKind.INTERNAL, "activity failed")
    unmarked = {"ErrorType": "System.TimeoutException", "ErrorMessage": "The activity timed out."}
    assert StepError.from_failure("None \n None", unmarked).message == "The activity timed out."
