"""The local answerer's sentence vectors are computed at index time, so a question embeds only itself."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingestion.ingest import index_paths
from providers.base import Passage
from providers.local.extractive import ExtractiveAnswerer, answer_texts
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sentence_vectors import SentenceVectors
from providers.local.sqlite_index import SqliteIndex
from tests.providers.local.counting_embedders import TokenCountingEmbedder

QUESTION = "How does the pipeline retry a failed step?"
DOCS = {
    "retries.md": "# Retries\n\nA failed step is retried three times. Each retry waits on a durable timer first.\n\n"
    "- `transient`: a timeout or a throttled call. Retried.\n- `invalid_input`: never retried.\n",
    "events.md": "# Events\n\nEvery finished run publishes one event. Subscribers dedupe on the event id.\n",
}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    return folder


def _answer_in_new_process(index_dir: Path) -> list[str]:
    """Answer QUESTION as a new process would (nothing in memory); the texts it had to embed."""
    embedder = TokenCountingEmbedder()
    answerer = ExtractiveAnswerer(SentenceVectors(embedder, index_dir / "sentence-vectors.sqlite"))
    with SqliteIndex(index_dir, embedder=HashingEmbedder()) as index:
        passages = index.search(QUESTION, HashingEmbedder().embed_array([QUESTION])[0], top_k=3)
    assert passages and answerer.analyse(QUESTION, passages) is not None
    answerer.close()
    return embedder.calls


def test_indexing_embeds_the_sentences_so_a_question_embeds_only_itself(docs: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    writer = TokenCountingEmbedder()
    answerer = ExtractiveAnswerer(SentenceVectors(writer, index_dir / "sentence-vectors.sqlite"))
    with SqliteIndex(index_dir, embedder=HashingEmbedder(), preparer=answerer) as index:
        index_paths([docs], index=index, embedder=HashingEmbedder(), base=docs.parent)
        passages = index.search("", np.ones(HashingEmbedder().dimensions), top_k=10)
    answerer.close()
    wanted = answer_texts(passages)
    assert "A failed step is retried three times." in wanted and "Retries" in wanted
    assert sorted(writer.calls) == sorted(wanted)  # each once, at index time

    assert _answer_in_new_process(index_dir) == [QUESTION]
    # The question was embedded, not kept: the file holds the passages' texts alone.
    with sqlite3.connect(index_dir / "sentence-vectors.sqlite") as db:
        assert db.execute("SELECT count(*) FROM embedded").fetchone()[0] == len(wanted)


def test_without_the_preparer_the_question_embeds_the_sentences(docs: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with SqliteIndex(index_dir, embedder=HashingEmbedder()) as index:
        index_paths([docs], index=index, embedder=HashingEmbedder(), base=docs.parent)
    assert len(_answer_in_new_process(index_dir)) > 1


def test_an_index_written_without_it_is_prepared_by_its_next_ingestion_once(docs: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with SqliteIndex(index_dir, embedder=HashingEmbedder()) as older:
        index_paths([docs], index=older, embedder=HashingEmbedder(), base=docs.parent)

    writer = TokenCountingEmbedder()
    answerer = ExtractiveAnswerer(SentenceVectors(writer, index_dir / "sentence-vectors.sqlite"))
    with SqliteIndex(index_dir, embedder=HashingEmbedder(), preparer=answerer) as index:
        report = index_paths([docs], index=index, embedder=HashingEmbedder(), base=docs.parent)
        assert report.indexed == [] and len(report.skipped) == 2  # nothing changed, yet every chunk is prepared
        prepared = len(writer.calls)
        assert prepared > 0
        index_paths([docs], index=index, embedder=HashingEmbedder(), base=docs.parent)
        assert len(writer.calls) == prepared  # recorded: the next run does not look again
    answerer.close()
    assert _answer_in_new_process(index_dir) == [QUESTION]


def test_preparing_stops_between_pages_and_goes_on_where_it_stopped(docs: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with SqliteIndex(index_dir, embedder=HashingEmbedder()) as older:
        index_paths([docs], index=older, embedder=HashingEmbedder(), base=docs.parent)
    writer = TokenCountingEmbedder()
    answerer = ExtractiveAnswerer(SentenceVectors(writer, index_dir / "sentence-vectors.sqlite"))
    stop = threading.Event()

    class _StopAfterFirstPage:
        prepares = answerer.prepares

        def prepare(self, passages: Sequence[Passage]) -> None:
            answerer.prepare(passages)
            stop.set()

    with SqliteIndex(index_dir, embedder=HashingEmbedder(), preparer=_StopAfterFirstPage()) as index:
        assert not index.prepare_missing(page=1, stop=stop) and not index.prepared()
        first = len(writer.calls)
        assert 0 < first < len(answer_texts(index.search("", np.ones(HashingEmbedder().dimensions), top_k=10)))
    with SqliteIndex(index_dir, embedder=HashingEmbedder(), preparer=answerer) as index:
        assert index.prepare_missing(page=1) and index.prepared()
        assert len(set(writer.calls)) == len(writer.calls)  # nothing embedded twice
    answerer.close()
    assert _answer_in_new_process(index_dir) == [QUESTION]


def test_a_serving_host_prepares_an_unprepared_index_once_its_first_question_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from providers import factory
    from providers.local.sample_index import ensure_sample_index

    monkeypatch.setenv("PIPELINE_LOCAL_EMBEDDER", "hash")
    index_dir = tmp_path / "data" / "index"
    with SqliteIndex(index_dir, embedder=HashingEmbedder()) as shipped_like:  # copied in, never prepared
        ensure_sample_index(shipped_like, HashingEmbedder())
    writer = TokenCountingEmbedder()
    answerer = ExtractiveAnswerer(SentenceVectors(writer, index_dir / "sentence-vectors.sqlite"))
    monkeypatch.setattr(factory, "index_preparer", lambda: answerer)

    factory.get_retriever()  # a host that was not asked to prepare: nothing happens
    factory.wait_for_background_preparation()
    assert writer.calls == []

    factory.reset()
    factory.prepare_local_index_when_opened()
    factory.get_retriever()
    factory.wait_for_background_preparation()
    with SqliteIndex(index_dir, embedder=HashingEmbedder(), preparer=answerer) as index:
        assert index.prepared() and len(writer.calls) > 100
    answerer.close()
