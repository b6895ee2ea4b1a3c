"""The sample corpus ships indexed: a new state folder copies it instead of embedding the corpus, when it matches.

The answerer's sentences of it ship too, and are read in place, so a question on it embeds only itself.
"""

from __future__ import annotations

import importlib.util
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from ingestion.chunking import Chunk
from ingestion.ingest import index_paths
from ingestion.sources import CORPUS_DIR, embedding_text
from providers.base import Passage
from providers.local import sample_index
from providers.local.extractive import answer_texts
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.minilm_embedder import MODEL_NAME
from providers.local.sample_index import SHIPPED_INDEX, SHIPPED_SENTENCES, corpus_hashes, ensure_sample_index
from providers.local.sentence_vectors import SentenceVectors
from providers.local.sqlite_index import SqliteIndex

STALE = "the shipped sample index or its sentences are stale: `python -m providers.local.sample_index` writes both"


def _shipped(sql: str) -> list[tuple]:
    with closing(sqlite3.connect(SHIPPED_INDEX)) as shipped:
        return shipped.execute(sql).fetchall()


class _LooksLikeMiniLM(HashingEmbedder):
    """Named as MiniLM, 384 dimensions, counting what it embeds: the copy is taken, and never embeds."""

    def __init__(self) -> None:
        super().__init__(dimensions=384)
        self.texts: list[str] = []

    @property
    def model(self) -> str:
        return MODEL_NAME

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return super().embed_array(texts)


def test_the_shipped_index_is_the_corpus_as_it_is_chunked_and_embedded_here(tmp_path: Path) -> None:
    assert dict(_shipped("SELECT key, value FROM meta"))["embedder_model"] == MODEL_NAME, STALE
    assert dict(_shipped("SELECT source, content_hash FROM documents")) == corpus_hashes(), STALE
    columns = "source, ordinal, title, content, page"
    shipped = _shipped(f"SELECT {columns}, vector FROM chunks ORDER BY source, ordinal")
    embedder = HashingEmbedder()
    with SqliteIndex(tmp_path, embedder=embedder) as built:
        index_paths([CORPUS_DIR], index=built, embedder=embedder, base=CORPUS_DIR.parent)
        with closing(sqlite3.connect(built.path)) as fresh:
            rows = fresh.execute(f"SELECT {columns} FROM chunks ORDER BY source, ordinal").fetchall()
    assert rows == [row[:-1] for row in shipped], STALE
    if importlib.util.find_spec("onnxruntime") is None:
        return
    from providers.local.minilm_embedder import MiniLMEmbedder

    minilm = MiniLMEmbedder()  # a few chunks, embedded as an ingestion would
    texts = [
        embedding_text(Chunk(ordinal, title, content, page)) for _, ordinal, title, content, page, _ in shipped[:4]
    ]
    vectors = minilm.embed_array(texts)
    minilm.close()
    kept = np.vstack([np.frombuffer(row[-1], dtype=np.float32) for row in shipped[:4]])
    assert np.min(np.sum(vectors * kept, axis=1)) > 0.999, STALE


def test_a_new_index_copies_the_shipped_one(tmp_path: Path) -> None:
    embedder = _LooksLikeMiniLM()
    with SqliteIndex(tmp_path, embedder=embedder) as index:
        report = ensure_sample_index(index, embedder)
        assert report is not None and sorted(report.indexed) == sorted(corpus_hashes())
        assert embedder.texts == []  # nothing embedded
        assert report.chunks == index.chunk_count() == len(_shipped("SELECT id FROM chunks"))
        assert index.document_hashes() == corpus_hashes()
        assert ensure_sample_index(index, embedder) is None
        # Searchable both ways: the keyword index was filled as the chunks went in.
        vector = np.frombuffer(_shipped("SELECT vector FROM chunks LIMIT 1")[0][0], dtype=np.float32)
        assert index.search("dead-lettered message", vector, top_k=3)
        assert index.search("dead-lettered message", np.zeros(384), top_k=3)


def test_a_corpus_changed_since_is_indexed_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes = corpus_hashes()
    monkeypatch.setattr(sample_index, "corpus_hashes", lambda: {**hashes, "corpus/new.md": "0"})
    embedder = _LooksLikeMiniLM()
    with SqliteIndex(tmp_path, embedder=embedder) as index:
        report = ensure_sample_index(index, embedder)
        assert report is not None and len(embedder.texts) == report.chunks == index.chunk_count() > 0


def test_another_embedder_indexes_the_corpus(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    with SqliteIndex(tmp_path, embedder=embedder) as index:
        report = ensure_sample_index(index, embedder)
        assert report is not None and index.embedder() == (embedder.model, embedder.dimensions)


def test_an_index_filled_meanwhile_is_left_as_it_is(tmp_path: Path) -> None:
    embedder = _LooksLikeMiniLM()
    with SqliteIndex(tmp_path, embedder=embedder) as index:
        notes = tmp_path / "notes.md"
        notes.write_text("# Notes\n\nFilled by another process first.\n")
        index_paths([notes], index=index, embedder=embedder, base=tmp_path)
        assert index.copy_from(SHIPPED_INDEX) == []
        assert list(index.document_hashes()) == ["notes.md"]


def test_the_shipped_sentences_hold_everything_the_answerer_reads_from_the_shipped_index(tmp_path: Path) -> None:
    read: list[str] = []

    class _Collect:
        prepares = "what the answerer reads"

        def prepare(self, passages: Sequence[Passage]) -> None:
            read.extend(answer_texts(passages))

    embedder = _LooksLikeMiniLM()
    with SqliteIndex(tmp_path, embedder=embedder, preparer=_Collect()) as index:
        index.copy_from(SHIPPED_INDEX)
        assert index.prepare_missing() and len(read) > index.chunk_count()
    shipped = SentenceVectors(embedder, shipped=SHIPPED_SENTENCES)
    vectors, states = shipped.vectors_and_states(read)
    shipped.close()
    assert embedder.texts == [], STALE  # every text read from the shipped file, none embedded
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3) and sum(len(s) for s in states) > len(read)


def test_a_question_on_a_new_state_folders_sample_index_embeds_only_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("the MiniLM model is not installed")
    from config import get_settings
    from providers.factory import local_answerer
    from providers.local.minilm_embedder import MiniLMEmbedder

    embedded: list[str] = []
    embed_with_tokens = MiniLMEmbedder.embed_with_tokens

    def recording(self: MiniLMEmbedder, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        embedded.extend(texts)
        return embed_with_tokens(self, texts)

    monkeypatch.setattr(MiniLMEmbedder, "embed_with_tokens", recording)
    settings = get_settings()
    answerer = local_answerer(settings)  # the state folder's sentence file is new and empty
    minilm = MiniLMEmbedder()
    question = "How does the pipeline retry a failed step?"
    with SqliteIndex(settings.pipeline_data_dir / "index", embedder=minilm) as index:
        assert ensure_sample_index(index, minilm) is not None  # copied, not indexed
        passages = index.search(question, minilm.embed_array([question])[0], top_k=3)
    analysis = answerer.analyse(question, passages)
    answerer.close()
    minilm.close()
    assert analysis is not None and embedded == [question]
