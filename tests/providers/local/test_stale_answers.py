"""Issue 24: provenance of published answers, and Stale events when a re-index changes what they cited.

In process, on the real parts: the local SQLite index and provenance store, the publish step's own
recording, the ingestion loop, and the local event sink (events.jsonl) as the publisher.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.publish_result import _publish
from contracts import STALE_EVENT_TYPE, Citation, PublishResultInput, Result, StaleEventData, stale_event_id
from ingestion.ingest import index_paths
from providers.errors import ProviderError
from providers.factory import get_provenance, reset
from providers.local.events import LocalEventSink
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.provenance_store import SqliteProvenanceStore
from providers.local.sqlite_index import SqliteIndex
from providers.provenance import passage_hash
from providers.stale_answers import StaleTracker, publish_pending, seal

FERRY = """# Harbour ferry

## Timetable

The harbour ferry leaves the north pier every 20 minutes from 6 am to midnight.

## Fares

A single ferry ticket costs 4 euros; children under 12 travel free.

## Bicycles

Bicycles are allowed on the ferry outside rush hours, at no extra charge.
"""
TRAM = "# Tram\n\nThe tram to the airport runs every 10 minutes and takes 25 minutes.\n"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("PIPELINE_LOCAL_EMBEDDER", "hash")
    reset()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text(FERRY)
    (docs / "tram.md").write_text(TRAM)
    created = World(tmp_path / "data", docs)
    created.index_now(recreate=True)
    yield created
    created.close()


class World:
    """A data folder with an index of two documents, answers published into it, and `pipeline index` runs."""

    def __init__(self, data: Path, docs: Path) -> None:
        self.data, self.docs = data, docs
        self.embedder = HashingEmbedder()

    def open_index(self) -> SqliteIndex:
        return SqliteIndex(self.data / "index", embedder=self.embedder)

    def index_now(self, *, recreate: bool = False, paths: list[Path] | None = None) -> None:
        store = SqliteProvenanceStore.in_index_dir(self.data / "index")
        with self.open_index() as index:
            tracker = StaleTracker(index, store, index.source_passages)
            index_paths(paths or [self.docs], index=tracker, embedder=self.embedder, recreate=recreate, base=self.docs)
        store.close()

    def passage(self, source: str, words: str) -> Citation:
        with self.open_index() as index:
            (hit,) = [p for p in index.source_passages(source) if words in p.content]
        return Citation(id=hit.id, title=hit.title, source=hit.source, score=1.0, quote=words, page=hit.page)

    def answer(self, instance_id: str, question: str, *cited: Citation) -> None:
        """Publish a Completed answer through the publish step itself (which records its provenance)."""
        result = Result(
            instance_id=instance_id,
            question=question,
            answer=" ".join(c.quote for c in cited) or "not covered",
            citations=list(cited),
            models={},
            timings_ms={},
            metadata={"ticket": instance_id.upper()},
        )
        _publish(PublishResultInput(instance_id=instance_id, result=result))

    def tell(self, *, reanswer: bool = False) -> list[dict]:
        """Seal and publish what the last runs found; the Stale events now in events.jsonl."""
        store = SqliteProvenanceStore.in_index_dir(self.data / "index")
        seal(store, reanswer=reanswer)
        with LocalEventSink(self.data, start_worker=False) as sink:
            publish_pending(store, sink, event_source="/test")
        store.close()
        return self.stale_events()

    def stale_events(self) -> list[dict]:
        lines = (self.data / "events.jsonl").read_text().splitlines()
        return [e for e in map(json.loads, lines) if e["type"] == STALE_EVENT_TYPE]

    def close(self) -> None:
        reset()


def test_a_published_answer_records_what_it_cited_and_one_indexed_query_finds_it(world: World) -> None:
    fares = world.passage("ferry.md", "4 euros")
    world.answer("fare-1", "What does the ferry cost?", fares)
    world.answer("fare-2", "Ferry price?", fares, world.passage("tram.md", "airport"))
    world.answer("refused", "Who won the cup?")  # cites nothing: nothing to go stale

    store = get_provenance()
    assert store is not None
    assert sorted(store.answers_citing(fares.id)) == ["fare-1", "fare-2"]
    record = store.answer("fare-2")
    assert record is not None and record.metadata == {"ticket": "FARE-2"}
    (cited,) = [c for c in record.citations if c.chunk_id == fares.id]
    text = "A single ferry ticket costs 4 euros; children under 12 travel free."
    assert (cited.source, cited.content_hash) == ("ferry.md", passage_hash(text))
    assert store.answer("refused") is None
    db = sqlite3.connect(world.data / "index" / "provenance.sqlite")
    plan = " ".join(
        row[3]
        for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT DISTINCT instance_id FROM citations WHERE chunk_id = ? AND stale = 0", ("x",)
        )
    )
    assert "USING INDEX citations_chunk" in plan or "USING COVERING INDEX citations_chunk" in plan


def test_one_changed_fact_makes_exactly_the_answers_that_cited_it_stale_each_once(world: World) -> None:
    fares, timetable = world.passage("ferry.md", "4 euros"), world.passage("ferry.md", "north pier")
    world.answer("fare", "What does a ferry ticket cost?", fares)
    world.answer("both", "Ferry times and price?", timetable, fares)
    world.answer("times", "When does the ferry leave?", timetable)
    world.answer("tram", "How long is the tram to the airport?", world.passage("tram.md", "airport"))

    (world.docs / "ferry.md").write_text(FERRY.replace("4 euros", "5 euros"))
    world.index_now()
    events = world.tell()

    assert sorted(e["subject"] for e in events) == ["pipeline/both", "pipeline/fare"]
    fare = next(e for e in events if e["subject"] == "pipeline/fare")
    assert fare["id"] == stale_event_id("fare", [fares.id]) and fare["source"] == "/test"
    data = StaleEventData.model_validate(fare["data"])
    assert (data.instance_id, data.question, data.sources) == ("fare", "What does a ferry ticket cost?", ["ferry.md"])
    assert [(p.chunk_id, p.change) for p in data.passages] == [(fares.id, "changed")]
    assert data.metadata == {"ticket": "FARE"} and data.superseded_by is None
    assert fare["time"].startswith(str(data.detected_at.year))
    # The untouched passage moved to a new chunk id with the edit; its answers follow it there.
    store = get_provenance()
    assert store is not None
    new_timetable = world.passage("ferry.md", "north pier")
    assert new_timetable.id != timetable.id
    assert sorted(store.answers_citing(new_timetable.id)) == ["both", "times"]

    world.index_now()  # the same files again: nothing changed, nothing sent
    assert world.tell() == events
    (world.docs / "ferry.md").write_text(FERRY.replace("4 euros", "5 euros").replace("20 minutes", "30 minutes"))
    world.index_now()
    later = world.tell()[len(events) :]
    assert sorted(e["subject"] for e in later) == ["pipeline/both", "pipeline/times"]
    assert len({e["id"] for e in world.stale_events()}) == 4


def test_a_document_gone_from_a_recreated_index_makes_its_answers_stale_as_deleted(world: World) -> None:
    world.answer("tram", "How long is the tram to the airport?", world.passage("tram.md", "airport"))
    world.answer("fare", "What does a ferry ticket cost?", world.passage("ferry.md", "4 euros"))
    world.index_now(recreate=True, paths=[world.docs / "ferry.md"])
    (event,) = world.tell()
    assert event["subject"] == "pipeline/tram"
    assert [p["change"] for p in event["data"]["passages"]] == ["deleted"]


def test_a_crash_between_the_index_write_and_the_settling_is_settled_by_the_next_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.answer("fare", "What does a ferry ticket cost?", world.passage("ferry.md", "4 euros"))
    (world.docs / "ferry.md").write_text(FERRY.replace("4 euros", "5 euros"))

    def crash(self: StaleTracker, source: str) -> None:
        raise SystemExit("killed after the write")

    with monkeypatch.context() as patch:
        patch.setattr(StaleTracker, "settle", crash)
        with pytest.raises(SystemExit):
            world.index_now()
    assert world.tell() == []  # nothing found yet: the mark waits
    world.index_now()  # the file is unchanged now (skipped), but the marked source is settled
    (event,) = world.tell()
    assert event["subject"] == "pipeline/fare"


class _DiesAfter:
    """A publisher that dies (like a killed process) after `n` events."""

    def __init__(self, inner: LocalEventSink, n: int) -> None:
        self.inner, self.left = inner, n
        self.destination = inner.destination

    def publish(self, event: object) -> None:
        if self.left == 0:
            raise SystemExit("killed while publishing")
        self.left -= 1
        self.inner.publish(event)  # type: ignore[arg-type]


def test_a_crash_while_publishing_loses_nothing_and_duplicates_nothing(world: World) -> None:
    fares = world.passage("ferry.md", "4 euros")
    for n in range(5):
        world.answer(f"fare-{n}", f"Ferry price, take {n}?", fares)
    (world.docs / "ferry.md").write_text(FERRY.replace("4 euros", "5 euros"))
    world.index_now()
    store = SqliteProvenanceStore.in_index_dir(world.data / "index")
    seal(store, reanswer=False)
    with LocalEventSink(world.data, start_worker=False) as sink, pytest.raises(SystemExit):
        publish_pending(store, _DiesAfter(sink, 2), event_source="/test", batch=2)
    store.close()
    assert len(world.stale_events()) == 2

    events = world.tell()  # the next run sends what is pending; the batch cut short goes again, same ids
    assert sorted(e["subject"] for e in events) == [f"pipeline/fare-{n}" for n in range(5)]
    assert len({e["id"] for e in events}) == 5


def test_a_failing_publisher_is_retried_then_the_events_wait_for_the_next_run(world: World) -> None:
    world.answer("fare", "What does a ferry ticket cost?", world.passage("ferry.md", "4 euros"))
    (world.docs / "ferry.md").write_text(FERRY.replace("4 euros", "5 euros"))
    world.index_now()
    store = SqliteProvenanceStore.in_index_dir(world.data / "index")
    seal(store, reanswer=True)

    class Down:
        destination = "down"
        calls = 0

        def publish(self, event: object) -> None:
            Down.calls += 1
            raise ProviderError.transient("topic unavailable")

    report = publish_pending(store, Down(), event_source="/test", attempts=3, sleep=lambda s: None)
    assert (report.published, report.left, Down.calls) == (0, 1, 3)
    (pending,) = store.pending()
    assert pending.superseded_by == f"reanswer-{pending.id}" == pending.data["superseded_by"]
    store.close()
    (event,) = world.tell()
    assert event["id"] == pending.id


def test_the_status_view_says_an_answer_is_stale_and_names_its_newer_run(world: World) -> None:
    from triggers.status import staleness

    world.answer("fare", "What does a ferry ticket cost?", world.passage("ferry.md", "4 euros"))
    world.answer("times", "When does the ferry leave?", world.passage("ferry.md", "north pier"))
    assert staleness("fare") is None
    (world.docs / "ferry.md").write_text(FERRY.replace("4 euros", "5 euros"))
    world.index_now()
    (event,) = world.tell(reanswer=True)
    shown = staleness("fare")
    assert shown is not None and shown.published
    assert (shown.event_id, shown.sources) == (event["id"], ["ferry.md"])
    assert shown.superseded_by == event["data"]["superseded_by"] == f"reanswer-{event['id']}"
    assert staleness("times") is None


def test_the_openapi_document_describes_every_event_type_and_its_data() -> None:
    from contracts import EVENT_TYPES
    from triggers.openapi import build_document

    document = build_document()
    assert sorted(document["webhooks"]) == sorted(EVENT_TYPES)
    stale = document["webhooks"][STALE_EVENT_TYPE]["post"]["requestBody"]["content"]["application/cloudevents+json"]
    assert stale["schema"]["properties"]["data"] == {"$ref": "#/components/schemas/StaleEventData"}
    assert "passages" in document["components"]["schemas"]["StaleEventData"]["properties"]


def test_pipeline_status_prints_a_stale_answer_with_its_newer_run(capsys: pytest.CaptureFixture[str]) -> None:
    from cli.output import print_result

    status = {
        "instance_id": "fare",
        "runtime_status": "Completed",
        "result": {"answer": "A ticket costs 4 euros.", "citations": [], "timings_ms": {}},
        "stale": {"detected_at": "2026-12-07T18:00:00Z", "sources": ["ferry.md"], "superseded_by": "reanswer-1"},
    }
    print_result(status)
    assert "STALE since 2026-12-07T18:00:00Z: ferry.md changed; newer run: reanswer-1" in capsys.readouterr().out
    newer = {**status, "instance_id": "reanswer-1", "stale": None}
    newer["result"] = {**status["result"], "metadata": {"supersedes": "fare"}}
    print_result(newer)
    out = capsys.readouterr().out
    assert "answers again the stale run fare" in out and "STALE" not in out


def test_pipeline_index_reanswers_when_the_setting_asks_without_the_flag(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cli.index_command

    asked: list[bool] = []
    monkeypatch.setattr(cli.index_command, "tell_stale_answers", lambda *, reanswer: asked.append(reanswer) or True)
    assert cli.index_command.run_index([str(world.docs)], recreate=False) == 0
    monkeypatch.setenv("PIPELINE_REANSWER", "true")
    reset()
    assert cli.index_command.run_index([str(world.docs)], recreate=False) == 0
    assert asked == [False, True]


def test_provenance_follows_the_run_retention_setting(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.stale_report import track_stale_answers
    from providers.provenance import AnswerRecord, CitedPassage

    store = SqliteProvenanceStore.in_index_dir(world.data / "index")
    cited = (CitedPassage("c", "h", "ferry.md"),)
    store.record_answer(AnswerRecord("old", "q?", "2020-01-01T00:00:00Z", cited))
    store.record_answer(AnswerRecord("new", "q?", "2999-01-01T00:00:00Z", cited))
    with world.open_index() as index:
        track_stale_answers(index)  # unset: every answer is kept
        assert store.answer("old") is not None
        monkeypatch.setenv("PIPELINE_RETENTION_DAYS", "30")
        reset()
        track_stale_answers(index)
    assert store.answer("old") is None and store.answer("new") is not None
    store.close()
