"""`pipeline index` into Azure AI Search: schema, batched upload, per-document retry, change detection.

The real SDK talks to the fake service of conftest.py; the tests assert the REST requests it sent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.ingest import index_paths
from providers.azure.search_index import (
    HASH_FIELD,
    SEMANTIC_CONFIGURATION,
    VECTOR_PROFILE,
    AzureSearchIndexer,
)
from providers.azure.search_retriever import SCOPES_FIELD, AzureSearchRetriever
from providers.errors import ProviderError
from providers.local.hashing_embedder import HashingEmbedder

pytest.importorskip("azure.search.documents")


def _indexer(url: str, **options) -> AzureSearchIndexer:
    options.setdefault("retry_total", 0)
    return AzureSearchIndexer(url, "admin-key", index_name="docs", sleep=lambda _: None, **options)


def _write_docs(folder: Path) -> Path:
    folder.mkdir()
    (folder / "retries.md").write_text(
        "# Retries\n\nA failed step is retried with exponential backoff.\n\n"
        "## Limits\n\nAt most three attempts are made per step by default.\n"
    )
    (folder / "events.md").write_text("# Events\n\nCloudEvents are published to Event Grid when a run completes.\n")
    return folder


def test_index_schema_has_vector_profile_and_semantic_configuration(search_service) -> None:
    with _indexer(search_service.url) as indexer:
        indexer.ensure_index(384)
    put = next(r for r in search_service.requests if r.method == "PUT")
    assert put.path == "/indexes('docs')"
    assert put.query["api-version"]
    assert put.headers["api-key"] == "admin-key"
    fields = {f["name"]: f for f in put.body["fields"]}
    assert fields["id"]["key"] is True
    assert fields["content"]["searchable"] is True and fields["title"]["searchable"] is True
    assert fields["source"]["filterable"] is True
    assert fields[HASH_FIELD]["filterable"] is True
    vector = fields["content_vector"]
    assert vector["type"] == "Collection(Edm.Single)"
    assert vector["dimensions"] == 384
    assert vector["vectorSearchProfile"] == VECTOR_PROFILE
    profile = put.body["vectorSearch"]["profiles"][0]
    algorithm = put.body["vectorSearch"]["algorithms"][0]
    assert profile == {"name": VECTOR_PROFILE, "algorithm": algorithm["name"]}
    assert algorithm["kind"] == "hnsw" and algorithm["hnswParameters"]["metric"] == "cosine"
    semantic = put.body["semantic"]["configurations"][0]
    assert semantic["name"] == SEMANTIC_CONFIGURATION
    assert semantic["prioritizedFields"]["titleField"] == {"fieldName": "title"}
    assert semantic["prioritizedFields"]["prioritizedContentFields"] == [{"fieldName": "content"}]


def test_upload_in_batches_and_retry_only_the_failed_document(search_service) -> None:
    docs = [{"id": f"d{i}", "title": "T", "content": f"text {i}", "source": "s.md"} for i in range(5)]
    search_service.fail_once.add("d3")
    with _indexer(search_service.url, batch_size=2) as indexer:
        indexer.ensure_index(4)
        report = indexer.upload(docs)
    batches = search_service.batches()
    assert [[a["id"] for a in batch] for batch in batches] == [["d0", "d1"], ["d2", "d3"], ["d3"], ["d4"]]
    assert all(a["@search.action"] == "mergeOrUpload" for batch in batches for a in batch)
    assert sorted(report.succeeded) == [f"d{i}" for i in range(5)]
    assert report.failed == {} and report.retried == 1
    assert set(search_service.documents["docs"]) == {f"d{i}" for i in range(5)}
    assert all(r.headers["api-key"] == "admin-key" for r in search_service.requests)


def test_retries_are_bounded(search_service) -> None:
    class AlwaysBusy(set):
        def __contains__(self, key: object) -> bool:
            return key == "d0"

        def discard(self, key: object) -> None:
            pass

    search_service.fail_once = AlwaysBusy()
    with _indexer(search_service.url, max_attempts=3) as indexer:
        indexer.ensure_index(4)
        report = indexer.upload([{"id": "d0", "content": "x"}, {"id": "d1", "content": "y"}])
    assert report.succeeded == ["d1"]
    assert report.failed["d0"].startswith("HTTP 503")
    assert len(search_service.batches()) == 3


def test_index_paths_uploads_vectors_and_skips_unchanged_files(search_service, tmp_path: Path) -> None:
    folder = _write_docs(tmp_path / "docs")
    embedder = HashingEmbedder()
    with _indexer(search_service.url) as indexer:
        first = index_paths([folder], index=indexer, embedder=embedder, base=tmp_path)
        assert sorted(first.indexed) == ["docs/events.md", "docs/retries.md"]
        stored = search_service.documents["docs"]
        assert len(stored) == first.chunks
        doc = next(iter(stored.values()))
        assert len(doc["content_vector"]) == embedder.dimensions and doc[HASH_FIELD]

        uploads_before = len(search_service.batches())
        second = index_paths([folder], index=indexer, embedder=embedder, base=tmp_path)
        assert sorted(second.skipped) == ["docs/events.md", "docs/retries.md"] and second.indexed == []
        assert len(search_service.batches()) == uploads_before  # unchanged files upload nothing

        old_ids = {k for k, d in stored.items() if d["source"] == "docs/retries.md"}
        (folder / "retries.md").write_text("# Retries\n\nNow five attempts are made.\n")
        third = index_paths([folder], index=indexer, embedder=embedder, base=tmp_path)
    assert third.indexed == ["docs/retries.md"]
    new_ids = {k for k, d in search_service.documents["docs"].items() if d["source"] == "docs/retries.md"}
    assert new_ids and not (new_ids & old_ids)  # the old chunks were deleted, not left behind
    assert all("five attempts" in search_service.documents["docs"][k]["content"] for k in new_ids)


def test_recreate_drops_the_index_first(search_service, tmp_path: Path) -> None:
    folder = _write_docs(tmp_path / "docs")
    with _indexer(search_service.url) as indexer:
        index_paths([folder], index=indexer, embedder=HashingEmbedder(), base=tmp_path)
        search_service.documents["docs"]["stray"] = {"id": "stray", "source": "gone.md"}
        index_paths([folder], index=indexer, embedder=HashingEmbedder(), base=tmp_path, recreate=True)
    assert [r.method for r in search_service.requests].count("DELETE") == 1
    assert "stray" not in search_service.documents["docs"]


def test_cli_index_goes_to_azure_when_configured(search_service, tmp_path: Path, monkeypatch, capsys) -> None:
    folder = _write_docs(tmp_path / "docs")
    monkeypatch.setenv("AZURE_SEARCH_ENDPOINT", search_service.url)
    monkeypatch.setenv("AZURE_SEARCH_INDEX", "docs")
    monkeypatch.setenv("AZURE_SEARCH_API_KEY", "admin-key")
    from cli.index_command import run_index

    assert run_index([str(folder)], recreate=False) == 0
    assert "Azure AI Search index 'docs'" in capsys.readouterr().out
    assert len(search_service.documents["docs"]) >= 2


def _payroll_docs(folder: Path) -> Path:
    folder.mkdir()
    (folder / "hr.md").write_text("# HR\n\nPayroll dates for every employee.\n")
    (folder / "money.md").write_text("# Money\n\nPayroll budget of the board.\n")
    (folder / "public.md").write_text("# Public\n\nPayroll questions go to the help desk.\n")
    return folder


def _sources(url: str, scopes: list[str], *, top_k: int = 10, ids: list[str] | None = None) -> set[str]:
    """What a request with these scopes finds (search), or reads back by id (fetch)."""
    with AzureSearchRetriever(url, "query-key", index_name="docs", retry_total=0) as retriever:
        if ids is not None:
            return {p.source for p in retriever.fetch(ids, scopes=scopes)}
        return {p.source for p in retriever.search("payroll", [0.1, 0.2], top_k=top_k, scopes=scopes)}


def test_the_schema_has_a_filterable_scopes_collection(search_service) -> None:
    with _indexer(search_service.url) as indexer:
        indexer.ensure_index(4)
    put = next(r for r in search_service.requests if r.method == "PUT")
    field = next(f for f in put.body["fields"] if f["name"] == SCOPES_FIELD)
    assert field["type"] == "Collection(Edm.String)" and field["filterable"] is True


def test_reindexing_with_other_scopes_merges_only_the_scopes(search_service, tmp_path: Path) -> None:
    folder = _payroll_docs(tmp_path / "docs")
    hr = folder / "hr.md"
    embedder = HashingEmbedder()
    with _indexer(search_service.url) as indexer:
        index_paths([hr], index=indexer, embedder=embedder, base=tmp_path, scopes=["hr"])
        stored = search_service.documents["docs"]
        ids, vectors = set(stored), {k: d["content_vector"] for k, d in stored.items()}
        batches = len(search_service.batches())

        report = index_paths([hr], index=indexer, embedder=embedder, base=tmp_path, scopes=["finance"])
        assert report.rescoped == ["docs/hr.md"] and report.indexed == []
        (merge,) = search_service.batches()[batches:]
        assert {tuple(sorted(a)) for a in merge} == {("@search.action", "id", "scopes")}  # no text, no vector
        assert {a["@search.action"] for a in merge} == {"merge"}  # a chunk deleted meanwhile is not re-created
        assert {a["id"] for a in merge} == ids and all(a[SCOPES_FIELD] == ["finance"] for a in merge)
        assert {k: d["content_vector"] for k, d in stored.items()} == vectors
        assert _sources(search_service.url, ["hr"]) == set()
        assert _sources(search_service.url, ["finance"]) == {"docs/hr.md"}

        batches = len(search_service.batches())  # without scopes: kept, nothing sent
        assert index_paths([hr], index=indexer, embedder=embedder, base=tmp_path).skipped == ["docs/hr.md"]
        assert len(search_service.batches()) == batches
        hr.write_text("# HR\n\nPayroll dates moved to the 20th.\n")  # changed content keeps its scopes
        assert index_paths([hr], index=indexer, embedder=embedder, base=tmp_path).indexed == ["docs/hr.md"]
        assert set(stored) != ids and all(d[SCOPES_FIELD] == ["finance"] for d in stored.values())

        report = index_paths([hr], index=indexer, embedder=embedder, base=tmp_path, scopes=[])
        assert report.rescoped == ["docs/hr.md"]
    assert _sources(search_service.url, []) == {"docs/hr.md"}


def test_an_index_from_before_scopes_gains_the_field_and_its_documents_stay_visible(
    search_service, tmp_path: Path
) -> None:
    with _indexer(search_service.url) as indexer:
        indexer.ensure_index(4)
    old = search_service.indexes["docs"]
    old["fields"] = [f for f in old["fields"] if f["name"] != SCOPES_FIELD]  # as created before scopes
    search_service.documents["docs"]["old-1"] = {
        "id": "old-1",
        "title": "Old",
        "source": "old.md",
        "content": "Payroll from before scopes.",
        HASH_FIELD: "h",
    }
    with pytest.raises(ProviderError) as refused:  # the service refuses the filter: said, not worked around
        _sources(search_service.url, [])
    assert refused.value.kind == "configuration" and "pipeline index" in refused.value.message

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "new.md").write_text("# New\n\nPayroll for the new ones.\n")
    with _indexer(search_service.url) as indexer:
        index_paths([folder], index=indexer, embedder=HashingEmbedder(), base=tmp_path, scopes=["hr"])
    assert any(f["name"] == SCOPES_FIELD for f in search_service.indexes["docs"]["fields"])
    assert _sources(search_service.url, []) == {"old.md"}
    assert _sources(search_service.url, ["hr"]) == {"old.md", "docs/new.md"}


def test_a_scope_update_that_failed_halfway_is_reported_and_set_right_by_the_next_scoped_run(
    search_service, tmp_path: Path
) -> None:
    folder = _write_docs(tmp_path / "docs")
    retries = folder / "retries.md"
    embedder = HashingEmbedder()
    with _indexer(search_service.url, max_attempts=1) as indexer:
        index_paths([retries], index=indexer, embedder=embedder, base=tmp_path, scopes=["hr"])
        stored = search_service.documents["docs"]
        first, *others = sorted(stored)
        assert others, "the document needs two chunks for this test"
        search_service.fail_once.add(first)
        report = index_paths([retries], index=indexer, embedder=embedder, base=tmp_path, scopes=["finance"])
        assert "not updated" in report.failed["docs/retries.md"]
        assert stored[first][SCOPES_FIELD] == ["hr"] and all(stored[k][SCOPES_FIELD] == ["finance"] for k in others)

        original = retries.read_text()
        retries.write_text("# Retries\n\nNow five attempts.\n\n## Limits\n\nAnd a longer wait.\n")
        report = index_paths([retries], index=indexer, embedder=embedder, base=tmp_path)  # keep: which scopes?
        assert "different scopes" in report.failed["docs/retries.md"] and report.indexed == []

        retries.write_text(original)  # unchanged again: naming the scopes merges them into every chunk
        report = index_paths([retries], index=indexer, embedder=embedder, base=tmp_path, scopes=["finance"])
        assert report.rescoped == ["docs/retries.md"] and report.failed == {}
    assert {tuple(d[SCOPES_FIELD]) for d in search_service.documents["docs"].values()} == {("finance",)}


def test_the_azure_indexing_path_finds_the_answers_a_changed_document_made_stale(
    search_service, tmp_path: Path
) -> None:
    from providers.local.provenance_store import SqliteProvenanceStore
    from providers.provenance import AnswerRecord, CitedPassage, passage_hash
    from providers.stale_answers import StaleTracker, seal

    folder = _write_docs(tmp_path / "docs")
    embedder = HashingEmbedder()
    store = SqliteProvenanceStore(tmp_path / "provenance.sqlite")
    with _indexer(search_service.url) as indexer:
        index_paths([folder], index=indexer, embedder=embedder, base=tmp_path)
        held = indexer.source_passages("docs/retries.md")
        assert [p.source for p in held] == ["docs/retries.md"] * 2
        (limits,) = [p for p in held if "three attempts" in p.content]
        (other,) = [p for p in held if p is not limits]
        for name, passage in (("limits", limits), ("other", other)):
            cited = (CitedPassage(passage.id, passage_hash(passage.content), passage.source),)
            store.record_answer(AnswerRecord(name, f"{name}?", "2026-12-07T00:00:00Z", cited))
        (folder / "retries.md").write_text(
            "# Retries\n\nA failed step is retried with exponential backoff.\n\n"
            "## Limits\n\nAt most five attempts are made per step by default.\n"
        )
        tracker = StaleTracker(indexer, store, indexer.source_passages)
        index_paths([folder], index=tracker, embedder=embedder, base=tmp_path)
    (event,) = seal(store, reanswer=False)
    assert event.instance_id == "limits" and event.data["passages"][0]["chunk_id"] == limits.id
    assert store.answers_citing(other.id) == [] and len(store.live_citations("docs/retries.md")) == 1
    store.close()
