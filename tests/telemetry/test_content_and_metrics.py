"""No question text in telemetry unless opted in; the metrics a run records."""

from __future__ import annotations

import json
import logging
import time

import pytest

from config import get_settings
from providers.plan import RolePlan
from telemetry import model_span
from tests.telemetry.conftest import Telemetry
from tests.telemetry.pipeline_run import ask

QUESTION = "Which zebra-quokka budget limits the retries?"


def _telemetry_text(otel: Telemetry) -> str:
    """Every attribute value of every span and span event, as one string to search."""
    values: list[str] = []
    for span in otel.spans():
        values.append(span.name)
        values.extend(str(v) for v in (span.attributes or {}).values())
        for event in span.events:
            values.extend(str(v) for v in (event.attributes or {}).values())
    return "\n".join(values)


def test_question_text_is_not_recorded_by_default(otel: Telemetry, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    run = ask(QUESTION)
    assert run.outcome.done, run.outcome.error

    assert "zebra-quokka" not in _telemetry_text(otel)
    assert not [r for r in caplog.records if "zebra-quokka" in r.getMessage()]


def test_question_and_answer_are_recorded_when_opted_in(otel: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_RECORD_CONTENT", "true")
    get_settings.cache_clear()
    run = ask(QUESTION)
    assert run.outcome.done, run.outcome.error

    chat = next(s for s in otel.spans() if s.name.startswith("chat "))
    (message,) = json.loads(chat.attributes["gen_ai.input.messages"])
    assert message["parts"][0]["content"] == QUESTION
    answer = json.loads(chat.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"]
    assert answer == run.outcome.output["answer"]
    retrieval = next(s for s in otel.spans() if s.name.startswith("retrieval "))
    assert retrieval.attributes["gen_ai.retrieval.query.text"] == QUESTION


def test_a_run_records_step_durations_and_its_outcome(otel: Telemetry) -> None:
    run = ask("What is a task hub?")
    assert run.outcome.done, run.outcome.error

    recorded = otel.collect()
    durations = {p.attributes["pipeline.step"]: p for p in recorded["pipeline.step.duration"]}
    runs = recorded["pipeline.runs"]
    retries = recorded.get("pipeline.step.retries", [])
    assert set(durations) == {"embed_query", "search_documents", "generate_answer", "publish_result"}
    assert all(p.count == 1 and p.attributes["pipeline.outcome"] == "success" for p in durations.values())
    assert [(p.value, p.attributes) for p in runs] == [(1, {"pipeline.outcome": "completed"})]
    assert not retries


def test_pipeline_duration_runs_from_acceptance_to_the_event_in_seconds(otel: Telemetry) -> None:
    began = time.perf_counter()
    run = ask("What is a task hub?")
    wall = time.perf_counter() - began
    assert run.outcome.done
    (point,) = otel.collect()["pipeline.duration"]
    steps = sum(run.outcome.output["timings_ms"].values()) / 1000
    # It covers the steps and everything between them, and nothing before the request arrived.
    assert point.count == 1 and steps <= point.sum <= wall


def test_model_calls_record_token_usage_per_type(otel: Telemetry) -> None:
    with model_span("chat", provider=RolePlan("azure-openai", "gpt-4o-mini"), request_model="gpt-4o-mini") as call:
        call.response(model="gpt-4o-mini-2024-07-18", input_tokens=120, output_tokens=30)

    (span,) = otel.spans()
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes["gen_ai.provider.name"] == span.attributes["gen_ai.system"] == "azure.ai.openai"
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (120, 30)
    recorded = otel.collect()
    tokens = {p.attributes["gen_ai.token.type"]: p for p in recorded["gen_ai.client.token.usage"]}
    assert (tokens["input"].sum, tokens["output"].sum) == (120, 30)
    assert tokens["input"].attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert "gen_ai.system" not in tokens["input"].attributes
    (duration,) = recorded["gen_ai.client.operation.duration"]
    assert duration.attributes["gen_ai.operation.name"] == "chat"


def test_a_failed_model_call_is_an_error_span_with_its_kind(otel: Telemetry) -> None:
    from providers.errors import ProviderError

    with (
        pytest.raises(ProviderError),
        model_span("embeddings", provider=RolePlan("openai-compatible", "nomic"), request_model="nomic") as call,
    ):
        del call
        raise ProviderError.rejected("400 bad request")

    (span,) = otel.spans()
    assert span.status.status_code.name == "ERROR" and span.attributes["error.type"] == "rejected"
    (duration,) = otel.collect()["gen_ai.client.operation.duration"]
    assert duration.attributes["error.type"] == "rejected"
