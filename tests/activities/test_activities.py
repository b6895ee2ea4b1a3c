"""The four activities with the embedded default providers, called as the worker calls them."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import pytest

from activities import _step
from activities.embed_query import embed_query
from activities.generate_answer import generate_answer
from activities.publish_result import publish_result
from activities.search_documents import search_documents
from config import get_settings
from contracts import COMPLETED_EVENT_TYPE, ErrorKind, QueryEmbedding, StepError, event_id_for
from providers.errors import ProviderError

EMBED = embed_query._function._func
SEARCH = search_documents._function._func
GENERATE = generate_answer._function._func
PUBLISH = publish_result._function._func
QUESTION = "What happens to a queue message that is not a valid question?"


def common(**extra: Any) -> dict[str, Any]:
    return {"instance_id": "act-1", "attempt": 1, "traceparent": None, **extra}


def failure_of(call: Any, payload: Any) -> StepError:
    with pytest.raises(_step.ActivityFailed) as caught:
        call(payload)
    return StepError.from_failure(str(caught.value))


def test_the_steps_chain_into_a_cited_answer() -> None:
    embedding = EMBED(common(question=QUESTION))
    vector = QueryEmbedding.model_validate(embedding)
    assert vector.dimensions == 384 and vector.model == "all-MiniLM-L6-v2-int8"

    found = SEARCH(common(question=QUESTION, embedding=embedding, top_k=4))
    assert 1 <= len(found["hits"]) <= 4
    assert "corpus/service-bus.md" in [hit["source"] for hit in found["hits"]]
    assert "content" not in json.dumps(found)  # passage text stays in the index

    refs = [{"id": hit["id"], "score": hit["score"]} for hit in found["hits"]]
    answer = GENERATE(common(question=QUESTION, passages=refs))
    assert answer["citations"], answer
    assert {c["id"] for c in answer["citations"]} <= {r["id"] for r in refs}
    assert all(len(c["quote"]) <= get_settings().pipeline_snippet_chars + 1 for c in answer["citations"])
    assert answer["duration_ms"] > 0


def test_a_scoped_passage_is_found_and_read_back_only_under_its_scope(tmp_path: Path) -> None:
    from ingestion.ingest import index_paths
    from providers.factory import get_embedder, get_retriever

    question = "Which ledger code do reimbursements for the Kestrel project use?"
    (tmp_path / "kestrel.md").write_text(
        "# Kestrel project\n\nReimbursements for the Kestrel project use ledger code K-4471.\n"
    )
    index_paths([tmp_path], index=get_retriever(), embedder=get_embedder(), base=tmp_path, scopes=["finance"])
    embedding = EMBED(common(question=question))

    def search(scopes: list[str]) -> list[dict[str, Any]]:
        return SEARCH(common(question=question, embedding=embedding, top_k=5, scopes=scopes))["hits"]

    scoped = [hit for hit in search(["finance"]) if hit["source"] == "kestrel.md"]
    assert scoped, "the finance scope finds the document"
    assert all(hit["source"] != "kestrel.md" for hit in search([]) + search(["hr"]))

    refs = [{"id": hit["id"], "score": hit["score"]} for hit in scoped]
    cited = GENERATE(common(question=question, passages=refs, scopes=["finance"]))
    assert [c["id"] for c in cited["citations"]] == [refs[0]["id"]] and "K-4471" in cited["answer"]
    # The same ids handed to a run without the scope (a forged or replayed history) are not read back.
    refused = GENERATE(common(question=question, passages=refs, scopes=["hr"]))
    assert refused["citations"] == [] and "K-4471" not in refused["answer"]
    assert failure_of(SEARCH, common(question=question, embedding=embedding, top_k=5, scopes=["*"])).kind is (
        ErrorKind.INVALID_INPUT
    )


def test_the_retriever_is_named_without_its_filesystem_path() -> None:
    """The retriever's name travels into every result and CloudEvent: it must not reveal the user's home."""
    found = SEARCH(common(question=QUESTION, embedding=EMBED(common(question=QUESTION)), top_k=2))
    data_dir = str(get_settings().pipeline_data_dir.resolve())
    assert found["retriever"] == "local-sqlite-hybrid"
    assert data_dir not in json.dumps(found) and "index.sqlite" not in json.dumps(found)


def test_input_that_is_not_the_contract_fails_as_invalid_input_without_retry() -> None:
    error = failure_of(EMBED, {"instance_id": "x", "question": "q", "surprise": True})
    assert error.kind is ErrorKind.INVALID_INPUT and not error.kind.retryable
    assert "surprise" in error.message
    assert failure_of(SEARCH, "{not json").kind is ErrorKind.INVALID_INPUT


def test_provider_errors_keep_their_kind_and_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    class Throttled:
        model = "throttled"

        def embed(self, texts: list[str]) -> Any:
            raise ProviderError.transient("429 from the model", retry_after_s=12)

    monkeypatch.setattr("activities.embed_query.get_embedder", lambda: Throttled())
    error = failure_of(EMBED, common(question="q"))
    assert (error.kind, error.retry_after_s, error.message) == (ErrorKind.TRANSIENT, 12, "429 from the model")


def test_publish_is_idempotent_on_the_event_id() -> None:
    result = {
        "instance_id": "act-1",
        "question": "q",
        "answer": "a",
        "citations": [],
        "models": {},
        "timings_ms": {},
    }
    first = PUBLISH(common(result=result))
    second = PUBLISH(common(result=result))
    assert first["event_id"] == second["event_id"] == event_id_for("act-1", COMPLETED_EVENT_TYPE)
    lines = (Path(get_settings().pipeline_data_dir) / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [first["event_id"]]


def test_publish_needs_exactly_one_outcome() -> None:
    assert failure_of(PUBLISH, common()).kind is ErrorKind.INVALID_INPUT


@pytest.mark.parametrize("function", [embed_query, search_documents, generate_answer, publish_result])
def test_activity_annotations_are_plain_classes_the_worker_accepts(function: Any) -> None:
    # The worker resolves hints with typing.get_type_hints and checks them as classes: `Any` is not one
    # before Python 3.11, and a parametrised generic like dict[str, Any] is an alias, not a class.
    hints = typing.get_type_hints(function._function._func)
    assert set(hints) == {"payload", "return"}
    for name, hint in hints.items():
        plain_class = hint is not typing.Any and isinstance(hint, type) and typing.get_origin(hint) is None
        assert plain_class, f"{name}: {hint!r}"
