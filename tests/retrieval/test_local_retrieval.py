"""Local retrieval: heading-aware chunking, re-indexing, fusion, ANN recall, embedder mismatch."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from ingestion.chunking import chunk_document
from ingestion.ingest import index_paths
from providers.base import Embeddings
from providers.errors import ProviderError
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sqlite_index import SqliteIndex, reciprocal_rank_fusion


def test_chunks_follow_headings_with_overlap() -> None:
    sentences = " ".join(f"Sentence number {i} talks about retries and backoff." for i in range(40))
    text = f"# Guide\n\nIntro line.\n\n## Retries\n\n{sentences}\n\n## Events\n\nEvents are published.\n"
    doc = chunk_document(text, kind="markdown", name="guide.md", target_chars=300, overlap_chars=60)
    titles = [c.title for c in doc.chunks]
    assert titles[0] == "Guide" and titles[-1] == "Guide > Events"
    retries = [c for c in doc.chunks if c.title == "Guide > Retries"]
    assert len(retries) > 2 and all(len(c.content) <= 360 for c in retries)
    for before, after in itertools.pairwise(retries):
        last_sentence = before.content.rsplit(". ", 1)[-1]
        assert after.content.startswith(last_sentence.rstrip(".")), "the next chunk repeats the tail (overlap)"
    assert not any("Events are published" in c.content for c in retries)  # never straddles sections


def test_reindexing_a_changed_file_replaces_its_chunks(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "page.md"
    page.write_text("# Page\n\nThe old text mentions zebras.\n")
    embedder = HashingEmbedder()
    with SqliteIndex(tmp_path / "index", embedder=embedder) as index:
        index_paths([docs], index=index, embedder=embedder, base=tmp_path)
        old = index.chunk_ids("docs/page.md")
        page.write_text("# Page\n\nThe new text mentions giraffes.\n")
        report = index_paths([docs], index=index, embedder=embedder, base=tmp_path)
        new = index.chunk_ids("docs/page.md")
        assert report.indexed == ["docs/page.md"] and new and not set(new) & set(old)
        assert index.fetch(old) == []
        vector = embedder.embed(["giraffes"]).vectors[0]
        hits = index.search("giraffes", vector, top_k=3)
        assert hits and "giraffes" in hits[0].content
        assert all("zebras" not in h.content for h in index.search("zebras", vector, top_k=3))


def test_fusion_rewards_agreement_between_rankings() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "a"]])
    assert [k for k, _ in fused] == ["b", "a", "d", "c"]  # found by both beats found by one
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


class _FixedEmbedder:
    """Another model with the same dimensions as the hashing embedder, to test the mismatch check."""

    model = "all-MiniLM-L6-v2"
    dimensions = 384

    def embed(self, texts):
        return Embeddings(vectors=[[1.0] + [0.0] * 383 for _ in texts], model=self.model)


def test_index_refuses_a_query_embedder_other_than_its_builder(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nSome text.\n")
    hashing = HashingEmbedder()
    with SqliteIndex(tmp_path / "index", embedder=hashing) as index:
        index_paths([docs], index=index, embedder=hashing)
    with SqliteIndex(tmp_path / "index", embedder=_FixedEmbedder()) as other, pytest.raises(ProviderError) as caught:
        other.search("text", [1.0] + [0.0] * 383, top_k=1)
    assert caught.value.kind.value == "configuration"
    assert hashing.model in caught.value.message and "all-MiniLM-L6-v2" in caught.value.message
    assert "recreate" in caught.value.message


def _clustered(n: int, d: int = 64, seed: int = 0) -> np.ndarray:
    # Low intrinsic dimension plus noise, like sentence embeddings (uniform random vectors are
    # a worst case no real corpus looks like).
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12)).astype(np.float32) @ rng.standard_normal((12, d)).astype(np.float32)
    x += 0.3 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_ann_recall_at_10_on_a_synthetic_set() -> None:
    pytest.importorskip("usearch")
    from providers.local.ann import HnswIndex

    data = _clustered(5_100)
    base, queries = data[:5_000], data[5_000:]
    graph = HnswIndex.build(base)
    exact = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    found = sum(
        len(set(graph.search(q, 10).tolist()) & set(row.tolist())) for q, row in zip(queries, exact, strict=True)
    )
    assert found / exact.size >= 0.95


def test_large_index_switches_to_ann_and_saves_the_graph(tmp_path: Path) -> None:
    pytest.importorskip("usearch")
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(30):
        (docs / f"d{i}.md").write_text(f"# Doc {i}\n\nTopic {i} is about item{i} and nothing else.\n")
    embedder = HashingEmbedder()
    with SqliteIndex(tmp_path / "index", embedder=embedder, ann_threshold=10) as index:
        index_paths([docs], index=index, embedder=embedder)
        assert index.warm() is True
        assert list((tmp_path / "index").glob("*.usearch"))
        vector = embedder.embed(["item7"]).vectors[0]
        assert "item7" in index.search("item7", vector, top_k=1)[0].content
    with SqliteIndex(tmp_path / "index", embedder=embedder, ann_threshold=0) as exact:
        assert exact.warm() is False
