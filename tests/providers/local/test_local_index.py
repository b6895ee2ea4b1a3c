"""SqliteIndex: safe keyword queries, RRF fusion, fetch order, embedder mismatch, concurrent readers."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ingestion.chunking import Chunk
from ingestion.ingest import DocumentVersion
from providers.errors import ProviderError
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sqlite_index import SqliteIndex, fts_query, reciprocal_rank_fusion

HOSTILE = [
    '"',
    '""',
    "'; DROP TABLE chunks; --",
    "NEAR(retry backoff, 2)",
    "retry AND OR NOT",
    "title:secret",
    "^start *",
    "col:(a OR b)",
    "-- -- ((",
    "AND",
    "",
    "   ",
    "?!.,;",
    "😀 émoji ünïcode",
    "x" * 5000,
    "a\x00b",
]


def _add(index: SqliteIndex, embedder: HashingEmbedder, source: str, texts: list[str]) -> list[str]:
    chunks = [Chunk(title=source.title(), content=text, ordinal=i) for i, text in enumerate(texts)]
    vectors = embedder.embed_array([f"{c.title}\n{c.content}" for c in chunks])
    return index.replace_document(DocumentVersion(source, source.title(), f"h-{source}", chunks, vectors))


def _search(index: SqliteIndex, embedder: HashingEmbedder, query: str, top_k: int = 3, source: str | None = None):
    return index.search(query, embedder.embed([query]).vectors[0], top_k=top_k, source=source)


@pytest.mark.parametrize("query", HOSTILE)
def test_fts_query_is_always_valid_fts5(query: str) -> None:
    expression = fts_query(query)
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    connection.execute("INSERT INTO t VALUES ('retry backoff near title start')")
    if expression is not None:
        connection.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(index: SqliteIndex, embedder: HashingEmbedder, query: str) -> None:
    _add(index, embedder, "retries.md", ["Retry with backoff near the title.", "Dead letters are kept."])
    results = _search(index, embedder, query)
    assert all(p.source == "retries.md" for p in results)


def test_fts_query_quotes_words_and_drops_operators() -> None:
    assert fts_query('What is "NEAR" AND title:backoff?') == '"near" OR "title" OR "backoff"'
    assert fts_query("the of and") is None


def test_reciprocal_rank_fusion_order() -> None:
    keyword = ["a", "b", "c", "d"]
    vector = ["c", "e", "a", "f"]
    fused = reciprocal_rank_fusion([keyword, vector], k=60)
    keys = [key for key, _ in fused]
    # a: 1/61 + 1/63, c: 1/63 + 1/61 (tie, a seen first), b: 1/62, e: 1/62 (tie, b first), d: 1/64, f: 1/64
    assert keys == ["a", "c", "b", "e", "d", "f"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 63)
    # An item found by both searches beats the winner of a single search.
    assert next(k for k, _ in reciprocal_rank_fusion([["x", "y"], ["z", "y"]])) == "y"


def test_hybrid_search_ranks_the_matching_chunk_first(index: SqliteIndex, embedder: HashingEmbedder) -> None:
    _add(index, embedder, "bus.md", ["Invalid messages are dead-lettered with a reason.", "The queue is questions."])
    _add(index, embedder, "otel.md", ["Spans are exported with OpenTelemetry.", "Sampling lives in host.json."])
    results = _search(index, embedder, "why was the message dead-lettered?", top_k=2)
    assert results[0].content == "Invalid messages are dead-lettered with a reason."
    assert results[0].score >= results[1].score > 0
    assert len(results) == 2


def test_other_embedder_is_refused_with_both_names(tmp_path: Path, embedder: HashingEmbedder) -> None:
    with SqliteIndex(tmp_path, embedder=embedder) as built:
        _add(built, embedder, "doc.md", ["Some text about queues."])
    other = HashingEmbedder(dimensions=128)
    with SqliteIndex(tmp_path, embedder=other) as reopened:
        for call in (
            lambda: reopened.search("queues", other.embed(["queues"]).vectors[0], top_k=3),
            lambda: reopened.fetch(["x"]),
            lambda: _add(reopened, other, "new.md", ["More text."]),
        ):
            with pytest.raises(ProviderError) as raised:
                call()
            assert raised.value.kind == "configuration"
            assert "local-hashing-384-v1" in raised.value.message and "local-hashing-128-v1" in raised.value.message
        reopened.reset()  # a recreate adopts the new embedder
        _add(reopened, other, "new.md", ["More text."])
        assert reopened.embedder() == ("local-hashing-128-v1", 128)


def test_query_vector_of_wrong_size_is_a_configuration_error(index: SqliteIndex) -> None:
    with pytest.raises(ProviderError) as raised:
        index.search("q", [0.1] * 10, top_k=3)
    assert raised.value.kind == "configuration"


def test_reader_reloads_after_another_writer(tmp_path: Path, embedder: HashingEmbedder) -> None:
    with SqliteIndex(tmp_path, embedder=embedder) as reader, SqliteIndex(tmp_path, embedder=embedder) as writer:
        _add(writer, embedder, "a.md", ["Alpha text about queues."])
        assert len(_search(reader, embedder, "gamma rays", top_k=5)) == 1
        _add(writer, embedder, "b.md", ["Gamma rays are unrelated."])
        results = _search(reader, embedder, "gamma rays", top_k=5)
        assert results[0].source == "b.md" and len(results) == 2


def test_concurrent_readers(index: SqliteIndex, embedder: HashingEmbedder) -> None:
    for n in range(20):
        _add(index, embedder, f"doc{n}.md", [f"Document {n} talks about topic{n} and retries."])
    queries = [f"topic{n} retries" for n in range(20)] * 5

    def run(query: str) -> str:
        return _search(index, embedder, query, top_k=1)[0].source

    with ThreadPoolExecutor(max_workers=8) as pool:
        sources = list(pool.map(run, queries))
    assert sources == [f"doc{n}.md" for n in range(20)] * 5


def test_vectors_are_stored_as_float32(index: SqliteIndex, embedder: HashingEmbedder) -> None:
    _add(index, embedder, "doc.md", ["Text."])
    blob = sqlite3.connect(index.path).execute("SELECT vector FROM chunks").fetchone()[0]
    assert np.frombuffer(blob, dtype=np.float32).shape == (embedder.dimensions,)
