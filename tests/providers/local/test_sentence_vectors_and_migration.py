"""Sentence vectors are computed once and kept on disk; an index from another embedder is rebuilt or reported."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from ingestion.ingest import index_paths
from ingestion.sources import CORPUS_DIR
from providers.errors import ProviderError
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sample_index import ensure_sample_index
from providers.local.sentence_vectors import SentenceVectors
from providers.local.sqlite_index import SqliteIndex
from tests.providers.local.counting_embedders import CountingEmbedder, TokenCountingEmbedder


def test_each_sentence_is_embedded_once_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sentence-vectors.sqlite"
    first = CountingEmbedder()
    cache = SentenceVectors(first, path)
    texts = ["Retries wait on a durable timer.", "Events carry a traceparent.", "Retries wait on a durable timer."]
    vectors = cache.vectors(texts)
    assert first.calls == texts[:2]  # the repeat within one call is embedded once
    assert np.allclose(vectors, first.inner.embed_array(texts))
    assert np.allclose(cache.vectors(texts[:1]), vectors[:1]) and len(first.calls) == 2
    cache.close()

    second = CountingEmbedder()  # a new process: nothing in memory, the file answers
    again = SentenceVectors(second, path).vectors([*texts, "A new sentence."])
    assert second.calls == ["A new sentence."]
    assert np.allclose(again[:3], vectors)


def test_an_unwritable_cache_location_degrades_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    embedder = CountingEmbedder()
    vectors = SentenceVectors(embedder, blocker / "cache.sqlite").vectors(["Still answers."])
    assert vectors.shape == (1, embedder.dimensions) and embedder.calls == ["Still answers."]


def test_token_states_come_from_the_same_pass_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sentence-vectors.sqlite"
    first = TokenCountingEmbedder()
    cache = SentenceVectors(first, path)
    texts = ["Retries wait durable timers.", "Events carry traceparents."]  # no stop-words: no zero rows
    vectors = cache.vectors(texts)
    states = cache.token_states(texts)
    assert first.calls == texts  # one pass gave both
    assert [m.shape for m in states] == [(4, first.dimensions), (3, first.dimensions)]
    exact = [first.inner.embed_array(text.split()) for text in texts]
    # Kept as int8 with a scale per row: each row is within a rounding step of the exact one.
    for kept, truth in zip(states, exact, strict=True):
        assert np.abs(kept - truth).max() <= np.abs(truth).max() / 127 + 1e-6
        assert np.all(np.sum(kept * truth, axis=1) > 0.99)
    cache.close()

    second = TokenCountingEmbedder()
    again = SentenceVectors(second, path)
    assert np.allclose(again.vectors(texts), vectors)
    assert all(np.array_equal(a, b) for a, b in zip(again.token_states(texts), states, strict=True))
    assert second.calls == []


def test_a_cache_file_of_the_first_form_is_read_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "sentence-vectors.sqlite"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
    embedder = TokenCountingEmbedder()
    cache = SentenceVectors(embedder, path)
    assert cache.token_states(["Still answers."])[0].shape == (2, embedder.dimensions)
    cache.close()
    with sqlite3.connect(path) as reopened:
        tables = {name for (name,) in reopened.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"embedded"}


class _Other(HashingEmbedder):
    @property
    def model(self) -> str:
        return "another-embedder"


def test_a_sample_index_built_by_another_embedder_is_rebuilt(tmp_path: Path) -> None:
    old = SqliteIndex(tmp_path, embedder=HashingEmbedder())
    ensure_sample_index(old, HashingEmbedder())
    old.close()
    new = SqliteIndex(tmp_path, embedder=_Other())
    report = ensure_sample_index(new, _Other())
    assert report is not None and len(report.indexed) == len(list(CORPUS_DIR.glob("*.md")))
    assert new.embedder() == ("another-embedder", 384)
    new.close()


def test_an_index_holding_own_documents_is_reported_not_dropped(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "mine.md").write_text("# Mine\n\nMy own notes about backups, kept for years.\n")
    old = SqliteIndex(tmp_path / "index", embedder=HashingEmbedder())
    index_paths([docs], index=old, embedder=HashingEmbedder(), base=tmp_path)
    old.close()
    new = SqliteIndex(tmp_path / "index", embedder=_Other())
    with pytest.raises(ProviderError) as raised:
        ensure_sample_index(new, _Other())
    assert "pipeline index --recreate" in raised.value.message and HashingEmbedder().model in raised.value.message
    new.close()
    kept = SqliteIndex(tmp_path / "index", embedder=HashingEmbedder())
    assert list(kept.document_hashes()) == ["docs/mine.md"]
    kept.close()


def test_the_local_answerer_shares_the_minilm_session_and_falls_back_to_words_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from providers import factory
    from providers.local import minilm_embedder

    answerer = factory.get_generator()
    assert answerer.model == "local-extractive-v2"
    assert answerer._vectors._embedder is factory._embedder()  # type: ignore[attr-defined]  # one session

    factory.reset()
    real = importlib.util.find_spec
    monkeypatch.setattr(
        minilm_embedder.importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a)
    )
    monkeypatch.setenv("PIPELINE_LOCAL_EMBEDDER", "hash")
    fallback = factory.get_generator()
    assert fallback.model == "local-extractive-v2-lexical"
    answer = fallback.answer("How is an invalid message dead-lettered?", [])
    assert answer.quotes == {}
