"""What every `ingestion.ingest.IndexWriter` does (the local SQLite index, Azure AI Search), read back
through the same store's `Retriever`.

The writer is driven as `index_paths` drives it: `begin`, per file `known_hash` then a write, `finish`.
"""

from __future__ import annotations

import pytest

from contracts.errors import ErrorKind
from providers.errors import ProviderError
from tests.contracts.conftest import Store
from tests.scope_values import REFUSED_SCOPES

TEXTS = ["Ferries leave every hour.", "The last ferry leaves at midnight."]


def test_a_written_document_is_read_back_whole_and_its_hash_and_scopes_known_to_the_next_run(store: Store) -> None:
    ids = store.add("ferries.md", TEXTS, scopes=["crew", "board"], digest="h1")
    assert len(ids) == len(set(ids)) == 2
    fetched = store.retriever.fetch(ids, scopes=["crew"])
    assert [(p.id, p.source, p.title, p.content) for p in fetched] == [
        (ids[0], "ferries.md", "Title of ferries.md", TEXTS[0]),
        (ids[1], "ferries.md", "Title of ferries.md", TEXTS[1]),
    ]
    with store.run():
        assert store.writer.known_hash("ferries.md") == "h1"
        assert store.writer.known_scopes("ferries.md") == ("board", "crew")  # sorted
        assert store.writer.known_hash("other.md") is None
        assert store.writer.known_scopes("other.md") is None


def test_writing_the_same_document_again_changes_nothing(store: Store) -> None:
    first = store.add("ferries.md", TEXTS, digest="h1")
    again = store.add("ferries.md", TEXTS, digest="h1")
    assert again == first
    assert sorted(p.id for p in store.search("ferry ferries", top_k=10)) == sorted(first)  # no second copy


def test_a_changed_document_replaces_its_old_chunks(store: Store) -> None:
    old = store.add("ferries.md", TEXTS, digest="h1")
    new = store.add("ferries.md", ["Ferries now leave every half hour."], digest="h2")
    assert not set(new) & set(old)
    assert store.retriever.fetch(old) == []  # gone, not left beside the new ones
    assert [p.content for p in store.search("ferries", top_k=10)] == ["Ferries now leave every half hour."]
    with store.run():
        assert store.writer.known_hash("ferries.md") == "h2"


def test_delete_removes_the_document_and_says_whether_it_held_one(store: Store) -> None:
    ids = store.add("ferries.md", TEXTS)
    kept = store.add("buses.md", ["Buses leave every hour too."])
    with store.run() as run:
        assert store.writer.delete_document("ferries.md") is True
        assert store.writer.delete_document("ferries.md") is False
        assert store.writer.delete_document("never.md") is False
        run.changed = True
    assert store.retriever.fetch(ids) == []
    assert [p.id for p in store.retriever.fetch(kept)] == kept
    with store.run():
        assert store.writer.known_hash("ferries.md") is None
        assert store.writer.known_scopes("ferries.md") is None


def test_new_scopes_keep_the_chunks_and_move_the_visibility(store: Store) -> None:
    ids = store.add("ferries.md", TEXTS, scopes=["crew"])
    with store.run():
        store.writer.known_hash("ferries.md")
        assert store.writer.set_scopes("ferries.md", ["board"]) is True
    with store.run():
        store.writer.known_hash("ferries.md")
        assert store.writer.set_scopes("ferries.md", ["board"]) is False  # already so: nothing written
        assert store.writer.known_scopes("ferries.md") == ("board",)
    assert store.retriever.fetch(ids, scopes=["crew"]) == []
    assert [p.id for p in store.retriever.fetch(ids, scopes=["board"])] == ids  # the same chunks, not rewritten
    with store.run():
        store.writer.known_hash("ferries.md")
        assert store.writer.set_scopes("ferries.md", []) is True  # unscoped: visible to every request
    assert [p.id for p in store.retriever.fetch(ids)] == ids


def test_a_hostile_scope_is_refused_by_every_write_and_nothing_changes(store: Store) -> None:
    ids = store.add("ferries.md", TEXTS)
    with store.run() as run:
        store.writer.known_hash("ferries.md")
        for bad in REFUSED_SCOPES:
            with pytest.raises(ProviderError) as refused:
                store.writer.set_scopes("ferries.md", [bad])
            assert refused.value.kind is ErrorKind.INVALID_INPUT, bad
            with pytest.raises(ProviderError) as refused:
                run.replace("new.md", ["text"], scopes=[bad])
            assert refused.value.kind is ErrorKind.INVALID_INPUT, bad
    assert [p.id for p in store.retriever.fetch(ids)] == ids
    with store.run():
        assert store.writer.known_scopes("ferries.md") == ()
        assert store.writer.known_hash("new.md") is None
