"""Page numbers travel from a chunk to the citation: local index, Azure AI Search, the activities, the CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from activities.embed_query import embed_query
from activities.generate_answer import generate_answer
from activities.search_documents import search_documents
from cli.output import print_result
from ingestion.chunking import Chunk
from ingestion.ingest import DocumentVersion
from providers.factory import get_embedder
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sqlite_index import SqliteIndex

HANDBOOK = [
    Chunk(0, "Handbook > Leave", "Annual leave is twenty-five working days per calendar year.", page=1),
    Chunk(1, "Handbook > Leave", "Unused leave expires at the end of March of the following year.", page=1),
    Chunk(2, "Handbook > Travel", "Train travel is booked in second class for journeys under four hours.", page=2),
    Chunk(3, "Handbook > Travel", "Hotel costs are reimbursed up to one hundred and forty euros a night.", page=3),
]


def _store(index: SqliteIndex, embedder: HashingEmbedder, source: str, chunks: list[Chunk]) -> list[str]:
    vectors = np.asarray(embedder.embed([c.content for c in chunks]).vectors, dtype=np.float32)
    index.begin(embedder, recreate=False)
    digest = f"hash-{source}"
    ids = index.replace_document(DocumentVersion(source, "Handbook", digest, chunks, vectors))
    index.finish(changed=True)
    return ids


def test_the_local_index_keeps_each_chunks_page_for_search_and_fetch(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    with SqliteIndex(tmp_path, embedder=embedder) as index:
        ids = _store(index, embedder, "handbook.pdf", HANDBOOK)
        _store(index, embedder, "notes.md", [Chunk(0, "Notes", "Hotel bookings go through the travel desk.")])
        query = "How much are hotel costs reimbursed per night?"
        found = index.search(query, embedder.embed([query]).vectors[0], top_k=5)
        pages = {p.id: p.page for p in found}
        assert pages[ids[3]] == 3 and pages[ids[2]] == 2
        assert next(p for p in found if p.source == "notes.md").page is None  # a source without pages
        assert [p.page for p in index.fetch([ids[1], ids[3]])] == [1, 3]


def test_an_index_file_from_before_pages_gains_the_column_and_keeps_its_chunks(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    with SqliteIndex(tmp_path, embedder=embedder) as index:
        (old_id,) = _store(index, embedder, "old.md", [Chunk(0, "Old", "Written before pages existed.")])
    # Make the file what an earlier release wrote: a chunks table without the page column.
    with sqlite3.connect(tmp_path / "index.sqlite") as connection:
        connection.execute("ALTER TABLE chunks DROP COLUMN page")
    with SqliteIndex(tmp_path, embedder=embedder) as index:
        assert [(p.id, p.page) for p in index.fetch([old_id])] == [(old_id, None)]
        (new_id,) = _store(index, embedder, "new.pdf", [Chunk(0, "New", "Written on page four.", page=4)])
        assert [p.page for p in index.fetch([new_id, old_id])] == [4, None]


def test_azure_ai_search_stores_and_returns_the_page(search_service) -> None:
    pytest.importorskip("azure.search.documents")
    from providers.azure.search_index import AzureSearchIndexer
    from providers.azure.search_retriever import AzureSearchRetriever

    embedder = HashingEmbedder()
    with AzureSearchIndexer(
        search_service.url, "admin-key", index_name="docs", retry_total=0, sleep=lambda _: None
    ) as indexer:
        indexer.begin(embedder, recreate=False)
        vectors = np.asarray(embedder.embed([c.content for c in HANDBOOK]).vectors, dtype=np.float32)
        ids = indexer.replace_document(DocumentVersion("handbook.pdf", "H", "h1", HANDBOOK, vectors))
    put = next(r for r in search_service.requests if r.method == "PUT")
    fields = {f["name"]: f for f in put.body["fields"]}
    assert fields["page"]["type"] == "Edm.Int32"
    stored = search_service.documents["docs"]
    assert [stored[i]["page"] for i in ids] == [1, 1, 2, 3]
    retriever = AzureSearchRetriever(search_service.url, "key", index_name="docs", retry_total=0, timeout=5)
    found = retriever.search("hotel", [0.0] * embedder.dimensions, top_k=10, source="handbook.pdf")
    assert "page" in search_service.requests[-1].body["select"].split(",")
    assert {p.id: p.page for p in found} == dict(zip(ids, [1, 1, 2, 3], strict=True))


def test_a_citation_of_a_paginated_source_carries_its_page_to_the_result_and_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    embedder = get_embedder()
    from providers.factory import get_retriever

    index = get_retriever()
    assert isinstance(index, SqliteIndex)
    vectors = np.asarray(embedder.embed([c.content for c in HANDBOOK]).vectors, dtype=np.float32)
    index.begin(embedder, recreate=True)
    index.replace_document(DocumentVersion("handbook.pdf", "Handbook", "h", HANDBOOK, vectors))
    index.finish(changed=True)

    common = {"instance_id": "pages-1", "attempt": 1, "traceparent": None}
    question = "Up to how much are hotel costs reimbursed a night?"
    embedding = embed_query._function._func({**common, "question": question})
    found = search_documents._function._func({**common, "question": question, "embedding": embedding, "top_k": 3})
    assert all(hit["page"] in (1, 2, 3) for hit in found["hits"])
    refs = [{"id": hit["id"], "score": hit["score"]} for hit in found["hits"]]
    answer = generate_answer._function._func({**common, "question": question, "passages": refs})
    hotel = [c for c in answer["citations"] if "one hundred and forty euros" in c["quote"]]
    assert hotel and hotel[0]["page"] == 3, answer

    result = {"answer": answer["answer"], "citations": answer["citations"], "timings_ms": {}}
    print_result({"runtime_status": "Completed", "result": result, "instance_id": "pages-1"})
    assert "handbook.pdf, page 3" in capsys.readouterr().out
