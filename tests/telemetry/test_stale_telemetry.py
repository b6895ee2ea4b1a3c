"""What the workbook's stale-answers query reads: the `pipeline.answers.stale` counter per source, and a
PRODUCER span per batch of Stale events sent (one request to the publisher)."""

from __future__ import annotations

from pathlib import Path

from providers.local.events import LocalEventSink
from providers.local.provenance_store import SqliteProvenanceStore
from providers.provenance import PendingStale
from providers.stale_answers import publish_pending
from tests.telemetry.conftest import Telemetry


def test_each_stale_event_sent_is_counted_per_source_and_traced(otel: Telemetry, tmp_path: Path) -> None:
    store = SqliteProvenanceStore(tmp_path / "provenance.sqlite")
    data = {"instance_id": "a", "question": "q?", "sources": ["ferry.md", "tram.md"], "passages": []}
    store.seal([PendingStale("e1", "a", {**data, "detected_at": "2026-12-07T18:00:00Z"})], [])
    store.seal([PendingStale("e2", "b", {**data, "sources": ["ferry.md"], "detected_at": "2026-12-07T18:00:01Z"})], [])
    with LocalEventSink(tmp_path, start_worker=False) as sink:
        assert publish_pending(store, sink, event_source="/test").published == 2
    store.close()

    points = otel.collect()["pipeline.answers.stale"]
    counts = {p.attributes["pipeline.source"]: p.value for p in points}
    assert counts == {"ferry.md": 2, "tram.md": 1}
    (send,) = [s for s in otel.spans() if s.name.startswith("send ")]
    assert send.attributes["cloudevents.event_type"] == "DurableAIPipeline.Answer.Stale"
    assert (send.attributes["cloudevents.event_id"], send.attributes["messaging.batch.message_count"]) == ("e1", 2)
