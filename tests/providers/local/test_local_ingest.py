"""Ingestion: incremental by content hash, changed files replaced, deletions kept unless recreate, scopes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ingestion.ingest import index_paths
from ingestion.sources import CORPUS_DIR
from providers.errors import ProviderError
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sample_index import ensure_sample_index
from providers.local.sqlite_index import SqliteIndex


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("# Alpha\n\nAlpha talks about queues.\n\n## More\n\nAnd about locks.\n")
    (root / "sub" / "b.txt").write_text("Beta is plain text about timers.")
    (root / "sub" / "c.html").write_text("<h1>Gamma</h1><p>Gamma is HTML about events.</p>")
    (root / "ignored.png").write_bytes(b"\x89PNG\r\n\x1a\n\0")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "d.md").write_text("# Hidden")
    return root


def test_first_run_indexes_supported_files_with_progress(
    docs: Path, index: SqliteIndex, embedder: HashingEmbedder
) -> None:
    seen: list[tuple[int, int]] = []
    report = index_paths([docs], index=index, embedder=embedder, progress=lambda d, t: seen.append((d, t)), base=docs)
    assert sorted(report.indexed) == ["a.md", "sub/b.txt", "sub/c.html"]
    assert report.skipped == [] and report.failed == {}
    assert report.chunks == index.chunk_count() == 4
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_unchanged_skipped_changed_replaced(docs: Path, index: SqliteIndex, embedder: HashingEmbedder) -> None:
    index_paths([docs], index=index, embedder=embedder, base=docs)
    old_a, old_b = index.chunk_ids("a.md"), index.chunk_ids("sub/b.txt")

    (docs / "a.md").write_text("# Alpha\n\nAlpha now talks about dead letters only.\n")
    report = index_paths([docs], index=index, embedder=embedder, base=docs)

    assert report.indexed == ["a.md"]
    assert sorted(report.skipped) == ["sub/b.txt", "sub/c.html"]
    new_a = index.chunk_ids("a.md")
    assert len(new_a) == 1 and not set(new_a) & set(old_a)
    assert index.fetch(old_a) == []  # the old chunks are gone, not left beside the new ones
    assert index.chunk_ids("sub/b.txt") == old_b
    assert "dead letters" in index.fetch(new_a)[0].content
    hits = index.search("locks", embedder.embed(["locks"]).vectors[0], top_k=5)
    assert all("locks" not in hit.content for hit in hits)


def test_deleted_files_stay_unless_recreate(docs: Path, index: SqliteIndex, embedder: HashingEmbedder) -> None:
    index_paths([docs], index=index, embedder=embedder, base=docs)
    (docs / "sub" / "b.txt").unlink()
    index_paths([docs], index=index, embedder=embedder, base=docs)
    assert index.chunk_ids("sub/b.txt")
    report = index_paths([docs], index=index, embedder=embedder, base=docs, recreate=True)
    assert sorted(report.indexed) == ["a.md", "sub/c.html"]
    assert index.chunk_ids("sub/b.txt") == []


def test_batches_span_files(docs: Path, index: SqliteIndex, embedder: HashingEmbedder) -> None:
    calls: list[int] = []

    class Counting(HashingEmbedder):
        def embed_array(self, texts):  # type: ignore[no-untyped-def]
            calls.append(len(texts))
            return super().embed_array(texts)

    index_paths([docs], index=index, embedder=Counting(), base=docs, batch_size=3)
    assert calls == [3, 1]


def test_explicit_file_and_missing_path(docs: Path, index: SqliteIndex, embedder: HashingEmbedder) -> None:
    report = index_paths([docs / "a.md"], index=index, embedder=embedder)
    assert report.indexed == [(docs / "a.md").resolve().as_posix()]  # absolute source without a base
    with pytest.raises(ProviderError) as raised:
        index_paths([docs / "nope"], index=index, embedder=embedder)
    assert raised.value.kind == "invalid_input"


def test_ingesting_with_another_embedder_is_refused(docs: Path, index: SqliteIndex) -> None:
    with pytest.raises(ProviderError) as raised:
        index_paths([docs], index=index, embedder=HashingEmbedder(dimensions=64))
    assert raised.value.kind == "configuration"


def test_sample_index_is_built_once(tmp_path: Path, embedder: HashingEmbedder) -> None:
    with SqliteIndex(tmp_path, embedder=embedder) as index:
        report = ensure_sample_index(index, embedder)
        assert report is not None and report.failed == {}
        assert len(report.indexed) == len(list(CORPUS_DIR.glob("*.md"))) >= 8
        assert all(source.startswith("corpus/") for source in report.indexed)
        assert ensure_sample_index(index, embedder) is None


def test_index_paths_sets_keeps_and_rewrites_scopes_without_re_embedding(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pay.md").write_text("# Pay\n\nPayroll runs on the 25th.\n")
    (docs / "open.md").write_text("# Open\n\nPayroll questions go to the help desk.\n")
    embedded: list[int] = []

    class Counting(HashingEmbedder):
        def embed_array(self, texts):  # type: ignore[no-untyped-def]
            embedded.append(len(texts))
            return super().embed_array(texts)

    embedder = Counting()
    with SqliteIndex(tmp_path / "index", embedder=embedder) as index:

        def sources(scopes: Sequence[str]) -> set[str]:  # queries embedded apart, so `embedded` counts documents
            vector = HashingEmbedder().embed(["payroll"]).vectors[0]
            return {p.source for p in index.search("payroll", vector, top_k=10, scopes=scopes)}

        index_paths([docs / "pay.md"], index=index, embedder=embedder, base=docs, scopes=["hr"])
        index_paths([docs / "open.md"], index=index, embedder=embedder, base=docs)
        ids, calls = index.chunk_ids("pay.md"), len(embedded)
        assert sources([]) == {"open.md"} and sources(["hr"]) == {"open.md", "pay.md"}

        report = index_paths([docs], index=index, embedder=embedder, base=docs, scopes=["finance", "finance"])
        assert sorted(report.rescoped) == ["open.md", "pay.md"] and report.indexed == []
        assert len(embedded) == calls and index.chunk_ids("pay.md") == ids  # same chunks, no embedding
        assert index.known_scopes("pay.md") == ("finance",)
        assert sources(["hr"]) == set() and sources(["finance"]) == {"open.md", "pay.md"}

        # Without --scope a re-index keeps each file's scopes, also when its content changed.
        report = index_paths([docs], index=index, embedder=embedder, base=docs)
        assert sorted(report.skipped) == ["open.md", "pay.md"]
        (docs / "pay.md").write_text("# Pay\n\nPayroll now runs on the 20th.\n")
        report = index_paths([docs], index=index, embedder=embedder, base=docs)
        assert report.indexed == ["pay.md"] and index.known_scopes("pay.md") == ("finance",)
        assert sources([]) == set()

        # An explicit empty list makes them unscoped: visible to every request.
        report = index_paths([docs], index=index, embedder=embedder, base=docs, scopes=[])
        assert sorted(report.rescoped) == ["open.md", "pay.md"]
        assert sources([]) == {"open.md", "pay.md"}

        with pytest.raises(ProviderError) as refused:
            index_paths([docs], index=index, embedder=embedder, base=docs, scopes=["hr", "no way"])
        assert refused.value.kind == "invalid_input"
