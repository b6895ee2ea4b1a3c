"""One question yields one trace: the starter, a span per step attempt, client spans beneath."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from config import get_settings
from contracts import ErrorKind
from providers.errors import ProviderError
from tests.telemetry.conftest import Telemetry
from tests.telemetry.pipeline_run import PARENT_ID, TRACE_ID, ask, replay

STEPS = ["embed_query", "search_documents", "generate_answer", "publish_result"]
CHILD_OPERATION = {
    "embed_query": "embeddings",
    "search_documents": "retrieval",
    "generate_answer": "chat",
}


def _hex(span_id: int) -> str:
    return format(span_id, "016x")


def _only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{name}: {[s.name for s in spans]}"
    return found[0]


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _events(data_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (data_dir / "events.jsonl").read_text().splitlines() if line]


def test_one_question_is_one_trace_with_the_expected_span_tree(otel: Telemetry) -> None:
    run = ask("How does the pipeline retry a failed step?", top_k=2)
    assert run.outcome.done, run.outcome.error
    spans = otel.spans()

    assert {format(s.context.trace_id, "032x") for s in spans} == {TRACE_ID}
    starter = _only(spans, "POST /api/pipeline/start")
    assert starter.kind is SpanKind.SERVER
    assert starter.parent is not None and starter.parent.is_remote and _hex(starter.parent.span_id) == PARENT_ID
    assert starter.attributes["http.request.method"] == "POST"
    assert starter.attributes["url.path"] == "/api/pipeline/start"
    assert starter.attributes["http.response.status_code"] == 202
    assert "secret-function-key" not in json.dumps(dict(starter.attributes))

    step_spans = _children(spans, starter)
    assert [s.name for s in sorted(step_spans, key=lambda s: s.start_time)] == [f"pipeline.{s}" for s in STEPS]
    for step_span in step_spans:
        step = step_span.attributes["pipeline.step"]
        assert step_span.kind is SpanKind.INTERNAL
        assert step_span.attributes["pipeline.instance_id"] == run.instance_id
        assert step_span.attributes["pipeline.attempt"] == 1
        assert step_span.status.status_code is not StatusCode.ERROR
        (child,) = _children(spans, step_span)
        if step == "publish_result":
            assert child.kind is SpanKind.PRODUCER
            assert child.attributes["messaging.system"] == "eventgrid"
            assert child.attributes["messaging.operation.type"] == "send"
            assert child.attributes["messaging.destination.name"]
        else:
            assert child.kind is SpanKind.CLIENT
            assert child.attributes["gen_ai.operation.name"] == CHILD_OPERATION[step]
            assert child.attributes["gen_ai.provider.name"] == "local"
        assert not _children(spans, child)
    assert len(spans) == 1 + 2 * len(STEPS)

    search = _only(spans, "pipeline.search_documents")
    assert search.attributes["pipeline.top_k"] == 2
    assert search.attributes["pipeline.result_count"] == 2
    embeddings = next(s for s in spans if s.name.startswith("embeddings "))
    assert embeddings.attributes["gen_ai.request.model"] == embeddings.attributes["gen_ai.response.model"]
    chat = next(s for s in spans if s.name.startswith("chat "))
    assert chat.attributes["gen_ai.request.model"] == "local-extractive-v2"


@pytest.mark.parametrize("scopes", [None, ["team:b", "team:a"]])
def test_the_runs_scopes_are_attributes_of_the_starter_and_the_reading_steps(
    otel: Telemetry, scopes: list[str] | None
) -> None:
    run = ask("What is a task hub?", scopes=scopes)
    assert run.outcome.done, run.outcome.error
    expected = tuple(sorted(scopes or []))
    spans = otel.spans()
    for name in ("POST /api/pipeline/start", "pipeline.search_documents", "pipeline.generate_answer"):
        assert _only(spans, name).attributes["pipeline.scopes"] == expected, name


def test_the_cloudevent_carries_the_trace_at_its_send_span(otel: Telemetry) -> None:
    run = ask("What is a task hub?")
    assert run.outcome.done, run.outcome.error
    (event,) = _events(get_settings().pipeline_data_dir)
    send = next(s for s in otel.spans() if s.kind is SpanKind.PRODUCER)

    assert event["traceparent"] == f"00-{TRACE_ID}-{_hex(send.context.span_id)}-01"
    assert send.attributes["messaging.message.id"] == event["id"]


def test_orchestrator_replays_add_no_spans(otel: Telemetry) -> None:
    run = ask("What is a task hub?")
    assert run.outcome.done and run.driver.episodes > len(STEPS)  # replayed once per completed activity
    count = len(otel.spans())
    assert count == 1 + 2 * len(STEPS)

    for _ in range(5):
        state = replay(run)
        assert state["isDone"] is True
    assert len(otel.spans()) == count


class _FlakyEmbedder:
    """Fails its first call as a throttled service would, then embeds as the real one does."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def embed(self, texts: list[str]) -> object:
        self.calls += 1
        if self.calls == 1:
            raise ProviderError.transient("429 Too Many Requests", retry_after_s=0.5)
        return self.real.embed(texts)


def test_a_retried_step_has_one_span_per_attempt_and_counts_a_retry(
    otel: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import activities.embed_query as module

    flaky = _FlakyEmbedder(module.get_embedder())
    monkeypatch.setattr(module, "get_embedder", lambda: flaky)
    run = ask("How are retries spaced?")
    assert run.outcome.done, run.outcome.error
    spans = otel.spans()

    first, second = sorted(otel.named("pipeline.embed_query"), key=lambda s: s.attributes["pipeline.attempt"])
    assert (first.attributes["pipeline.attempt"], second.attributes["pipeline.attempt"]) == (1, 2)
    assert first.status.status_code is StatusCode.ERROR and first.attributes["error.type"] == "transient"
    assert first.attributes["pipeline.error_kind"] == "transient"  # what App Insights keeps
    assert [e.name for e in first.events] == ["exception"]
    assert second.status.status_code is not StatusCode.ERROR
    assert first.parent.span_id == second.parent.span_id  # both children of the starter
    (failed_call,) = _children(spans, first)
    assert failed_call.status.status_code is StatusCode.ERROR and failed_call.attributes["error.type"] == "transient"
    assert len(spans) == 1 + 2 * (len(STEPS) + 1)

    (retry,) = otel.collect()["pipeline.step.retries"]
    assert retry.value == 1 and retry.attributes == {"pipeline.step": "embed_query"}


def test_a_step_that_fails_for_good_is_recorded_and_counted(otel: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    import activities.search_documents as module

    class Broken:
        name = "broken"

        def search(self, *args: object, **kwargs: object) -> list:
            raise ProviderError(ErrorKind.CONFIGURATION, "index 'docs' does not exist")

    monkeypatch.setattr(module, "get_retriever", lambda: Broken())
    run = ask("Where is the index?")
    assert not run.outcome.done

    (search,) = otel.named("pipeline.search_documents")  # configuration errors are not retried
    assert search.status.status_code is StatusCode.ERROR
    assert search.attributes["error.type"] == ErrorKind.CONFIGURATION.value
    exception = search.events[0]
    assert exception.name == "exception" and "does not exist" in exception.attributes["exception.message"]
    (publish,) = otel.named("pipeline.publish_result")  # the Failed event, still in the trace
    assert publish.context.trace_id == search.context.trace_id

    (runs,) = otel.collect()["pipeline.runs"]
    assert runs.value == 1
    assert runs.attributes == {
        "pipeline.outcome": "failed",
        "pipeline.step": "search_documents",
        "error.type": "configuration",
    }
