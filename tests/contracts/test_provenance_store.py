"""The same cases against every `ProvenanceStore`: SQLite beside the local index, and Azure Table Storage
against Azurite (the real emulator, started here on a loopback port; `.ci/azurite` installs it for CI).

The Azurite case needs `azurite-table` (AZURITE_TABLE, `.ci/node/node_modules/.bin`, or PATH); without it
the case skips, unless PIPELINE_REQUIRE_AZURITE is set (CI), where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from providers.local.provenance_store import SqliteProvenanceStore
from providers.provenance import AnswerRecord, CitedPassage, Finding, PendingStale, ProvenanceStore
from tests.processes import ROOT, free_port

# Azurite's well-known development account (public, in Microsoft's docs; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


_AZURITE_OPTIONS = ("--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--disableTelemetry")


def _azurite() -> str:
    for candidate in (
        os.environ.get("AZURITE_TABLE"),
        str(ROOT / ".ci" / "node" / "node_modules" / ".bin" / "azurite-table"),
        shutil.which("azurite-table"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    reason = "no azurite-table (run .ci/azurite, or set AZURITE_TABLE)"
    if os.environ.get("PIPELINE_REQUIRE_AZURITE"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = _azurite()
    port = free_port()
    process = subprocess.Popen(
        [executable, "--tableHost", "127.0.0.1", "--tablePort", str(port), *_AZURITE_OPTIONS],
        cwd=tmp_path_factory.mktemp("azurite"),  # where it would write its debug log, if asked
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.TransportError:
            assert process.poll() is None and time.monotonic() < deadline, "azurite-table did not start"
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(10)


@pytest.fixture(params=["sqlite", pytest.param("azure-table", marks=pytest.mark.e2e)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProvenanceStore]:
    if request.param == "sqlite":
        opened: ProvenanceStore = SqliteProvenanceStore(tmp_path / "provenance.sqlite")
    else:
        from providers.azure.table_provenance import TableProvenanceStore

        endpoint = request.getfixturevalue("azurite")
        prefix = "t" + tmp_path.name.replace("_", "").replace("-", "")[-20:]  # a fresh set of tables per test
        opened = TableProvenanceStore(endpoint, account_key=AZURITE_KEY, prefix=prefix)
    yield opened
    opened.close()


def _answer(instance_id: str, *cited: CitedPassage, at: str = "2026-12-07T10:00:00Z") -> AnswerRecord:
    return AnswerRecord(instance_id, f"question of {instance_id}?", at, cited, ("team-a",), {"ticket": instance_id})


A = CitedPassage("chunk-a", "hash-a", "docs/ferry prices.md", None)
B = CitedPassage("chunk-b", "hash-b", "docs/ferry prices.md", None)
P = CitedPassage("chunk-p", "hash-p", "https://example.com/report.pdf?v=1#x", 3)


def test_answers_are_found_by_chunk_and_by_source_and_recording_twice_changes_nothing(store: ProvenanceStore) -> None:
    store.record_answer(_answer("run-1", A, P))
    store.record_answer(_answer("run-2", A, B))
    store.record_answer(_answer("run-2", A, B))  # a retried publish
    assert sorted(store.answers_citing("chunk-a")) == ["run-1", "run-2"]
    assert store.answers_citing("chunk-p") == ["run-1"] and store.answers_citing("nothing") == []
    assert sorted(store.live_citations("docs/ferry prices.md"), key=str) == sorted(
        [("run-1", A), ("run-2", A), ("run-2", B)], key=str
    )
    assert store.live_citations(P.source) == [("run-1", P)]
    assert sorted(store.cited_sources()) == sorted([A.source, P.source])
    record = store.answer("run-1")
    assert record is not None and sorted(record.citations, key=str) == sorted([A, P], key=str)
    assert (record.scopes, dict(record.metadata or {})) == (("team-a",), {"ticket": "run-1"})
    assert store.answer("unknown") is None


def test_settling_re_points_moved_citations_stales_found_ones_and_clears_the_mark(store: ProvenanceStore) -> None:
    store.record_answer(_answer("run-1", A, P))
    store.record_answer(_answer("run-2", B))
    store.mark_changing([A.source], now="2026-12-07T11:00:00Z")
    store.mark_changing([A.source], now="2026-12-07T11:00:05Z")
    assert store.changing() == [A.source]
    found = Finding("run-1", "chunk-a", A.source, None, "changed", "2026-12-07T11:00:01Z")
    store.settle(A.source, {("run-2", "chunk-b"): "chunk-b2"}, [found])
    assert store.changing() == []
    assert store.answers_citing("chunk-a") == [] and store.answers_citing("chunk-b2") == ["run-2"]
    assert store.answers_citing("chunk-b") == []
    assert [(i, c.chunk_id) for i, c in store.live_citations(A.source)] == [("run-2", "chunk-b2")]
    assert store.unsealed() == [found]
    assert store.stale_counts() == {A.source: 1}


def test_sealed_events_wait_in_order_until_published_and_mark_the_answer_stale(store: ProvenanceStore) -> None:
    store.record_answer(_answer("run-1", A))
    store.record_answer(_answer("run-2", A))
    found = [Finding(i, "chunk-a", A.source, None, "changed", "2026-12-07T11:00:01Z") for i in ("run-1", "run-2")]
    data = {"sources": [A.source], "passages": [{"source": A.source, "page": 2}]}
    later = PendingStale("ev-2", "run-2", {**data, "detected_at": "2026-12-07T11:00:02Z"}, "reanswer-ev-2")
    first = PendingStale("ev-1", "run-1", {**data, "detected_at": "2026-12-07T11:00:01Z"})
    store.seal([later, first], found)
    assert store.unsealed() == []
    assert [p.id for p in store.pending()] == ["ev-1", "ev-2"]
    assert store.pending()[1] == later
    mark = store.stale_mark("run-2")
    assert mark is not None and (mark.event_id, mark.superseded_by, mark.published) == ("ev-2", "reanswer-ev-2", False)
    assert dict(mark.pages) == {A.source: (2,)} and mark.sources == (A.source,)
    store.mark_published(["ev-1"], now="2026-12-07T11:00:03Z")
    assert [p.id for p in store.pending()] == ["ev-2"]
    mark = store.stale_mark("run-1")
    assert mark is not None and mark.published
    assert store.stale_mark("run-3") is None


def test_prune_forgets_old_answers_and_their_citations(store: ProvenanceStore) -> None:
    store.record_answer(_answer("old", A, at="2026-01-01T00:00:00Z"))
    store.record_answer(_answer("new", A, at="2026-12-01T00:00:00Z"))
    assert store.prune(before="2026-06-01T00:00:00Z") == 1
    assert store.answer("old") is None and store.answers_citing("chunk-a") == ["new"]
    assert store.live_citations(A.source) == [("new", A)]
