"""Retrieval sanity on the bundled corpus: questions find the document that answers them."""

from __future__ import annotations

import pytest

from ingestion.sources import CORPUS_DIR
from providers.local.extractive import NO_ANSWER, ExtractiveAnswerer
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sqlite_index import SqliteIndex

CASES = [
    ("How are invalid queue messages dead-lettered?", "corpus/service-bus.md"),
    ("What happens after a message reaches the maximum delivery count?", "corpus/service-bus.md"),
    ("Why must orchestrator code be deterministic during replay?", "corpus/durable-functions.md"),
    ("What is the default retry backoff between attempts?", "corpus/retries-and-failures.md"),
    ("How do subscribers deduplicate repeated events?", "corpus/events.md"),
    ("How does reciprocal rank fusion combine keyword and vector results?", "corpus/local-search.md"),
    ("Where does the embedded host keep its durable state?", "corpus/local-host.md"),
    ("Which roles does the managed identity need on Azure?", "corpus/deploying-to-azure.md"),
]


def test_corpus_documents_are_substantial() -> None:
    documents = sorted(CORPUS_DIR.glob("*.md"))
    assert 8 <= len(documents) <= 12
    for path in documents:
        text = path.read_text()
        assert 300 <= len(text.split()) <= 900, path.name
        assert text.count("\n## ") >= 3, path.name


@pytest.mark.parametrize(("question", "source"), CASES)
def test_question_retrieves_its_document_in_top_3(
    sample_index: SqliteIndex, embedder: HashingEmbedder, question: str, source: str
) -> None:
    hits = sample_index.search(question, embedder.embed([question]).vectors[0], top_k=3)
    assert source in [hit.source for hit in hits]


def test_answer_from_corpus_cites_retrieved_passages(sample_index: SqliteIndex, embedder: HashingEmbedder) -> None:
    question = "How are invalid queue messages dead-lettered?"
    hits = sample_index.search(question, embedder.embed([question]).vectors[0], top_k=3)
    passages = sample_index.fetch([hit.id for hit in hits])
    answer = ExtractiveAnswerer().answer(question, passages)
    assert answer.text != NO_ANSWER
    assert set(answer.quotes) <= {p.id for p in passages}
    assert "dead-letter" in answer.text
