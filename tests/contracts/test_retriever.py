"""What every `Retriever` does, whichever index serves it (the local SQLite index, Azure AI Search).

Ranking quality is each backend's own (Azure AI Search ranks in the service); these are the properties a
caller relies on: `top_k`, best first, scopes filtered before ranking and never crossed, `fetch` in the
order asked, and bad input refused as `invalid_input` before any work.
"""

from __future__ import annotations

import pytest

from contracts.errors import ErrorKind
from providers.errors import ProviderError
from tests.contracts.conftest import Store
from tests.scope_values import INERT_SCOPES, REFUSED_SCOPES


@pytest.fixture
def library(store: Store) -> dict[str, list[str]]:
    """Chunk ids by source: hidden documents written first (so an unfiltered `top` would take them), then
    one public document."""
    return {
        "hr.md": store.add("hr.md", ["Payroll dates for every employee."], scopes=["hr"]),
        "money.md": store.add("money.md", ["Payroll budget of the board."], scopes=["finance", "board"]),
        "public.md": store.add("public.md", ["Payroll questions go to the help desk."]),
    }


def test_an_empty_index_finds_and_fetches_nothing(store: Store) -> None:
    assert store.search("payroll") == []
    assert store.retriever.fetch(["nothing#0"]) == []


def test_top_k_is_respected_and_the_best_passage_comes_first(store: Store) -> None:
    store.add("notes.md", [f"Payroll note number {n} about payroll." for n in range(5)])
    for top_k in (1, 2, 5):
        hits = store.search("payroll note", top_k=top_k)
        assert len(hits) == top_k
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(store.search("payroll note", top_k=50)) == 5


def test_passages_come_back_whole(store: Store) -> None:
    (chunk,) = store.add("retries.md", ["A failed step is retried with exponential backoff."])
    expected = (chunk, "retries.md", "Title of retries.md", "A failed step is retried with exponential backoff.")
    (hit,) = store.search("retried backoff", top_k=3)
    (fetched,) = store.retriever.fetch([chunk])
    assert (hit.id, hit.source, hit.title, hit.content) == expected
    assert (fetched.id, fetched.source, fetched.title, fetched.content) == expected


# One test per property, looping over its cases: the library is written once per implementation.
VISIBILITY = [
    ([], {"public.md"}),
    (["hr"], {"public.md", "hr.md"}),
    (["board"], {"public.md", "money.md"}),
    (["finance", "hr"], {"public.md", "hr.md", "money.md"}),
    (["legal"], {"public.md"}),
    (["HR"], {"public.md"}),  # names match exactly
    (INERT_SCOPES, {"public.md"}),  # names that read like filter syntax are only names
]


def test_a_scoped_document_reaches_only_requests_carrying_one_of_its_scopes(
    store: Store, library: dict[str, list[str]]
) -> None:
    every_id = [chunk for ids in library.values() for chunk in ids]
    for scopes, visible in VISIBILITY:
        assert {p.source for p in store.search("payroll", scopes=scopes)} == visible, scopes
        assert {p.source for p in store.retriever.fetch(every_id, scopes=scopes)} == visible, scopes


def test_top_k_is_filled_from_visible_passages_only(store: Store, library: dict[str, list[str]]) -> None:
    assert [p.source for p in store.search("payroll", top_k=1)] == ["public.md"]
    assert {p.source for p in store.search("payroll", top_k=2, scopes=["hr"])} == {"public.md", "hr.md"}


def test_the_source_filter_keeps_one_source_and_still_applies_scopes(
    store: Store, library: dict[str, list[str]]
) -> None:
    assert {p.source for p in store.search("payroll", source="hr.md", scopes=["hr"])} == {"hr.md"}
    assert store.search("payroll", source="hr.md") == []  # the source alone does not open it
    assert store.search("payroll", source="missing.md", scopes=["hr"]) == []


def test_fetch_keeps_the_order_asked_and_leaves_out_unknown_ids(store: Store) -> None:
    ids = store.add("doc.md", ["First chunk.", "Second chunk.", "Third chunk."])
    fetched = store.retriever.fetch([ids[2], "unknown#0", ids[0], ids[1]])
    assert [p.id for p in fetched] == [ids[2], ids[0], ids[1]]
    assert [p.content for p in fetched] == ["Third chunk.", "First chunk.", "Second chunk."]
    assert store.retriever.fetch([]) == []


def test_fetch_refuses_a_passage_the_scopes_cannot_see(store: Store, library: dict[str, list[str]]) -> None:
    hr = library["hr.md"]
    assert store.retriever.fetch(hr) == []  # the default is no scopes: unscoped documents only
    assert store.retriever.fetch(hr, scopes=["finance"]) == []
    assert [p.id for p in store.retriever.fetch(hr, scopes=["hr"])] == hr


def test_a_hostile_scope_is_refused_by_every_read(store: Store, library: dict[str, list[str]]) -> None:
    for bad in REFUSED_SCOPES:
        for read in (
            lambda scope: store.search("payroll", scopes=[scope]),
            lambda scope: store.search("payroll", scopes=["hr", scope]),
            lambda scope: store.retriever.fetch(library["hr.md"], scopes=[scope]),
        ):
            with pytest.raises(ProviderError) as refused:
                read(bad)
            assert refused.value.kind is ErrorKind.INVALID_INPUT, bad
            assert len(bad) <= 3 or bad not in refused.value.message  # the value is not echoed back


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: s.search("payroll", top_k=0), id="top_k 0"),
        pytest.param(lambda s: s.search("payroll", scopes=[f"s{i}" for i in range(33)]), id="33 scopes"),
    ],
)
def test_bad_arguments_are_invalid_input(store: Store, library: dict[str, list[str]], call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProviderError) as refused:
        call(store)
    assert refused.value.kind is ErrorKind.INVALID_INPUT
