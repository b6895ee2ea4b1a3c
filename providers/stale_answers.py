"""Stale answers: find them while the index changes, and tell subscribers, durably and once per change.

Three steps, each idempotent, each leaving what the next needs in the `ProvenanceStore`:

1. `StaleTracker` wraps the index writer of a `pipeline index` run. Before a document is replaced or
   deleted it marks the source *changing*; after the write it settles the source (see
   `providers.provenance.settle_citations`), which records findings and clears the mark in one step.
   A crash in between leaves the mark, and the next run settles the source against what the index
   holds then. `--recreate` marks every cited source, so sources not indexed again are found deleted.
2. `seal` groups the findings by answer into one Stale event each, with a deterministic id
   (`contracts.stale_event_id`) and its data fixed, and records them as pending.
3. `publish_pending` sends pending events through the answers' publisher (Event Grid, or webhooks +
   events.jsonl) and marks them sent. A crash between sending and marking sends the same event
   (same id, same data) again, which subscribers dedupe on source+id; the local sink drops it itself.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts import STALE_EVENT_TYPE, StaleEventData, StalePassage, stale_event_id
from ingestion.ingest import DocumentVersion
from ingestion.ingest import Embedder as IngestEmbedder
from providers.base import EventPublisher, OutgoingEvent, Passage
from providers.errors import ProviderError
from providers.provenance import (
    Finding,
    IndexedPassage,
    PendingStale,
    ProvenanceStore,
    passage_hash,
    settle_citations,
)
from providers.retrying import Backoff
from telemetry import publish_span
from telemetry.metrics import record_stale_answers

__all__ = [
    "PublishReport",
    "StaleTracker",
    "publish_pending",
    "reanswer_instance_id",
    "seal",
    "utc_now",
]

log = logging.getLogger(__name__)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reanswer_instance_id(event_id: str) -> str:
    """The run that answers a stale answer's question again: one per Stale event, so a repeat starts none."""
    return f"reanswer-{event_id}"


class StaleTracker:
    """An `ingestion.ingest.IndexWriter` that finds the answers each write makes stale.

    `passages_of(source)` reads the chunks the index holds for a source now (none: it holds no such
    document); the wrapped writer does the writing.
    """

    def __init__(
        self,
        writer: Any,
        store: ProvenanceStore,
        passages_of: Callable[[str], Sequence[Passage]],
        *,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self._writer = writer
        self._store = store
        self._passages_of = passages_of
        self._clock = clock
        self.settled: list[str] = []

    def __enter__(self) -> StaleTracker:
        self._writer.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._writer.__exit__(*exc_info)

    def __getattr__(self, name: str) -> Any:  # the index's other methods (counts, chunk ids) pass through
        return getattr(self._writer, name)

    def begin(self, embedder: IngestEmbedder, *, recreate: bool) -> None:
        if recreate:
            self._store.mark_changing(self._store.cited_sources(), now=self._clock())
        self._writer.begin(embedder, recreate=recreate)
        if not recreate:
            self.settle_marked()  # a crashed run's marks, against what the index holds now

    def known_hash(self, source: str) -> str | None:
        return self._writer.known_hash(source)

    def known_scopes(self, source: str) -> tuple[str, ...] | None:
        return self._writer.known_scopes(source)

    def set_scopes(self, source: str, scopes: Sequence[str]) -> bool:
        return self._writer.set_scopes(source, scopes)

    def replace_document(self, document: DocumentVersion) -> list[str]:
        self._store.mark_changing([document.source], now=self._clock())
        try:
            return self._writer.replace_document(document)
        finally:  # also when the write was refused: the index says what it holds
            self.settle(document.source)

    def delete_document(self, source: str) -> bool:
        self._store.mark_changing([source], now=self._clock())
        try:
            return self._writer.delete_document(source)
        finally:
            self.settle(source)

    def finish(self, *, changed: bool) -> None:
        self._writer.finish(changed=changed)
        self.settle_marked()  # after --recreate: the cited sources that were not indexed again

    def settle(self, source: str) -> None:
        held = self._passages_of(source)
        current = [IndexedPassage(p.id, passage_hash(p.content), p.page) for p in held]
        moved, findings = settle_citations(
            self._store.live_citations(source), current, source=source, deleted=not held, found_at=self._clock()
        )
        self._store.settle(source, moved, findings)
        self.settled.append(source)

    def settle_marked(self) -> None:
        for source in self._store.changing():
            self.settle(source)


def seal(store: ProvenanceStore, *, reanswer: bool) -> list[PendingStale]:
    """Turn the findings into one pending Stale event per answer; returns the events sealed now."""
    findings = store.unsealed()
    by_answer: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_answer[finding.instance_id].append(finding)
    events: list[PendingStale] = []
    for instance_id, found in by_answer.items():
        record = store.answer(instance_id)
        if record is None:  # pruned meanwhile: nobody to tell
            continue
        event_id = stale_event_id(instance_id, (f.chunk_id for f in found))
        superseded_by = reanswer_instance_id(event_id) if reanswer else None
        data = StaleEventData(
            instance_id=instance_id,
            question=record.question,
            scopes=list(record.scopes),
            passages=[
                StalePassage(source=f.source, page=f.page, chunk_id=f.chunk_id, change=f.change)
                for f in sorted(found, key=lambda f: (f.source, f.page or 0, f.chunk_id))
            ],
            sources=sorted({f.source for f in found}),
            detected_at=max(f.found_at for f in found),  # type: ignore[arg-type]  # RFC 3339, parsed by pydantic
            superseded_by=superseded_by,
            metadata=dict(record.metadata) if record.metadata else None,
        )
        events.append(PendingStale(event_id, instance_id, data.model_dump(mode="json"), superseded_by))
    store.seal(events, findings)
    return events


@dataclass(slots=True)
class PublishReport:
    published: int = 0
    left: int = 0  # still pending: the publisher kept failing (they go out with the next run)
    error: str | None = None


def to_event(pending: PendingStale, *, source: str) -> OutgoingEvent:
    """The CloudEvent of a pending Stale event: the stale answer's subject, its time the detection."""
    return OutgoingEvent(
        id=pending.id,
        type=STALE_EVENT_TYPE,
        source=source,
        subject=f"pipeline/{pending.instance_id}",
        time=str(pending.data["detected_at"]).replace("+00:00", "Z"),
        data=pending.data,
    )


def publish_pending(
    store: ProvenanceStore,
    publisher: EventPublisher,
    *,
    event_source: str,
    attempts: int = 5,
    backoff: Backoff | None = None,
    batch: int = 100,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishReport:
    """Send every pending Stale event, `batch` at a time, retrying transient failures with backoff."""
    backoff = backoff or Backoff(initial_s=0.5, max_s=10.0)
    report = PublishReport()
    while pending := store.pending(batch):
        events = [to_event(p, source=event_source) for p in pending]
        for attempt in range(1, attempts + 1):
            try:
                _send(publisher, events)
                break
            except ProviderError as error:
                if not error.retryable or attempt == attempts:
                    report.left = len(store.pending(1_000_000))
                    report.error = error.message
                    log.warning("stale events not published (%d left): %s", report.left, error.message)
                    return report
                sleep(backoff.delay(attempt))
        store.mark_published([e.id for e in events], now=utc_now())
        report.published += len(events)
        for p in pending:
            for name in p.data.get("sources", []):
                record_stale_answers(name)
    return report


def _send(publisher: EventPublisher, events: Sequence[OutgoingEvent]) -> None:
    """One call for the batch when the publisher takes batches (Event Grid), else one per event."""
    many = getattr(publisher, "publish_many", None)
    if callable(many):
        with publish_span(
            destination=publisher.destination, message_id=events[0].id, event_type=STALE_EVENT_TYPE
        ) as span:
            span.set_attribute("messaging.batch.message_count", len(events))
            many(events)
        return
    for event in events:
        with publish_span(destination=publisher.destination, message_id=event.id, event_type=STALE_EVENT_TYPE):
            publisher.publish(event)
