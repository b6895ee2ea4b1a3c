"""Document scopes in the local index, beyond the Retriever and IndexWriter contracts (tests/contracts):
filtered before ranking on each ranking path (keyword, exact vectors, ANN), names that read like syntax
stored and matched as names, an index from before scopes."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingestion.chunking import Chunk
from ingestion.ingest import DocumentVersion
from providers.base import Passage
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sqlite_index import SqliteIndex


def _add(
    index: SqliteIndex, embedder: HashingEmbedder, source: str, texts: list[str], scopes: Sequence[str] = ()
) -> list[str]:
    chunks = [Chunk(title=source, content=text, ordinal=i) for i, text in enumerate(texts)]
    vectors = embedder.embed_array([f"{c.title}\n{c.content}" for c in chunks])
    return index.replace_document(DocumentVersion(source, source, f"h-{source}", chunks, vectors, scopes))


def _search(
    index: SqliteIndex, embedder: HashingEmbedder, query: str, *, scopes: Sequence[str] = (), top_k: int = 10
) -> list[Passage]:
    return index.search(query, embedder.embed([query]).vectors[0], top_k=top_k, scopes=scopes)


@pytest.fixture
def library(index: SqliteIndex, embedder: HashingEmbedder) -> dict[str, list[str]]:
    """Chunk ids by source: one public document, one for hr, one for finance or board."""
    return {
        "public.md": _add(index, embedder, "public.md", ["Payroll questions go to the help desk."]),
        "hr.md": _add(index, embedder, "hr.md", ["Payroll dates for every employee."], ["hr"]),
        "money.md": _add(index, embedder, "money.md", ["Payroll budget of the board."], ["finance", "board"]),
    }


@pytest.mark.parametrize("ranking", ["keyword", "vector", "hybrid"])
def test_top_k_is_filled_from_visible_passages_only(tmp_path: Path, embedder: HashingEmbedder, ranking: str) -> None:
    # Twelve hidden passages outrank the visible ones in both rankings, and each ranking keeps only five
    # candidates: filtering after ranking would leave nothing; filtering before fills all three places.
    with SqliteIndex(tmp_path / "index", embedder=embedder, candidates=5, ann_threshold=0) as index:
        for i in range(12):
            _add(index, embedder, f"secret-{i}.md", ["zebra zebra zebra stripes zebra"], ["secret"])
        for i in range(4):
            _add(index, embedder, f"open-{i}.md", [f"a note {i} that mentions one zebra among other animals"])
        text = {"keyword": "zebra", "vector": "the of", "hybrid": "zebra"}[ranking]  # stop words: no keyword query
        vector = np.zeros(embedder.dimensions) if ranking == "keyword" else embedder.embed(["zebra"]).vectors[0]
        hits = index.search(text, list(vector), top_k=3)
        assert len(hits) == 3 and all(h.source.startswith("open-") for h in hits)
        assert all(h.source.startswith("secret-") for h in index.search(text, list(vector), top_k=3, scopes=["secret"]))


@pytest.mark.parametrize("most_hidden", [False, True], ids=["few hidden: the graph answers", "most hidden: exact"])
def test_the_ann_path_fills_top_k_from_visible_passages(
    tmp_path: Path, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch, most_hidden: bool
) -> None:
    pytest.importorskip("usearch")
    from providers.local import sqlite_index

    answers: list[np.ndarray | None] = []  # what the graph path gave back (None: exact search instead)
    real = sqlite_index._ann_rows

    def spied(*args: object) -> np.ndarray | None:
        answers.append(real(*args))  # type: ignore[arg-type]
        return answers[-1]

    monkeypatch.setattr(sqlite_index, "_ann_rows", spied)
    hidden, shown = (40, 8) if most_hidden else (5, 35)
    with SqliteIndex(tmp_path / "index", embedder=embedder, candidates=5, ann_threshold=10) as index:
        for i in range(hidden):
            _add(index, embedder, f"secret-{i}.md", [f"giraffe giraffe neck {i}"], ["secret"])
        for i in range(shown):
            _add(index, embedder, f"open-{i}.md", [f"item {i}: a giraffe, once, among lions and many elephants"])
        assert index.warm() is True
        vector = embedder.embed(["giraffe neck"]).vectors[0]
        hits = index.search("the of", vector, top_k=4)  # stop words only: the vector ranking alone
        assert len(hits) == 4 and all(h.source.startswith("open-") for h in hits)
        assert len(answers) == 1 and (answers[0] is None) is most_hidden
        assert all(h.source.startswith("secret-") for h in index.search("the of", vector, top_k=4, scopes=["secret"]))


def test_names_that_read_like_syntax_are_inert(
    index: SqliteIndex, embedder: HashingEmbedder, library: dict[str, list[str]]
) -> None:
    _add(index, embedder, "odd.md", ["Payroll for the odd ones."], ["or"])
    assert {p.source for p in _search(index, embedder, "payroll", scopes=["or"])} == {"public.md", "odd.md"}
    assert {p.source for p in _search(index, embedder, "payroll", scopes=["not"])} == {"public.md"}


def test_an_index_from_before_scopes_opens_with_every_document_visible(
    tmp_path: Path, embedder: HashingEmbedder
) -> None:
    with SqliteIndex(tmp_path, embedder=embedder) as built:
        _add(built, embedder, "old.md", ["Payroll from an old index."])
    with sqlite3.connect(tmp_path / "index.sqlite") as db:  # the schema as it was before scopes
        db.executescript("DROP INDEX document_scopes_scope; DROP TABLE document_scopes;")
    with SqliteIndex(tmp_path, embedder=embedder) as reopened:
        assert [p.source for p in _search(reopened, embedder, "payroll")] == ["old.md"]
        assert reopened.set_scopes("old.md", ["hr"]) is True
        assert _search(reopened, embedder, "payroll") == []
        assert reopened.set_scopes("old.md", ["hr"]) is False  # already so: nothing written
