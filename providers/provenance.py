"""Provenance: which passages each published answer cited, and the store that keeps it.

An answer is recorded when it is published (`activities.publish_result`): its question, scopes and,
per citation, the chunk id, a hash of the passage text, the source and the page. When a re-index
replaces or deletes a document, `settle` compares the answers' live citations of that source with
what the index holds now: a citation whose chunk is still there, or whose text survives under a new
chunk id (an edit elsewhere in the document moves every chunk id), is fine (re-pointed to the new
id); any other is a finding, and its answer is stale. `providers.stale_answers` turns findings into
one `DurableAIPipeline.Answer.Stale` event per answer.

The store is `ProvenanceStore`: SQLite beside the local index (`providers.local.provenance_store`),
Azure Table Storage on Azure (`providers.azure.table_provenance`). Its writes are idempotent, so a
crash anywhere is repaired by doing the same thing again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "AnswerRecord",
    "CitedPassage",
    "Finding",
    "IndexedPassage",
    "PendingStale",
    "ProvenanceStore",
    "StaleMark",
    "passage_hash",
    "settle_citations",
]

Change = Literal["changed", "deleted"]


def passage_hash(text: str) -> str:
    """The hash that says whether a passage's text is the same (whitespace runs do not count)."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class CitedPassage:
    """One passage an answer cited, as it was when the answer was published."""

    chunk_id: str
    content_hash: str  # "" when the passage was already gone at publish time: any change makes it stale
    source: str
    page: int | None = None


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """A published answer, with what it needs to be asked again and told apart."""

    instance_id: str
    question: str
    answered_at: str  # RFC 3339
    citations: tuple[CitedPassage, ...]
    scopes: tuple[str, ...] = ()
    metadata: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class IndexedPassage:
    """A chunk the index holds now for a source."""

    chunk_id: str
    content_hash: str
    page: int | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A cited passage that a re-index changed or removed: its answer is stale."""

    instance_id: str
    chunk_id: str
    source: str
    page: int | None
    change: Change
    found_at: str  # RFC 3339


@dataclass(frozen=True, slots=True)
class PendingStale:
    """A Stale event recorded before it is published; `body` is its data, fixed when it was recorded."""

    id: str
    instance_id: str
    data: Mapping[str, Any]
    superseded_by: str | None = None


@dataclass(frozen=True, slots=True)
class StaleMark:
    """What `pipeline status` and the status route say about a stale answer."""

    event_id: str
    detected_at: str
    sources: tuple[str, ...]
    superseded_by: str | None = None
    published: bool = False
    pages: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


def settle_citations(
    live: Sequence[tuple[str, CitedPassage]],
    current: Sequence[IndexedPassage],
    *,
    source: str,
    deleted: bool,
    found_at: str,
) -> tuple[dict[tuple[str, str], str], list[Finding]]:
    """Compare the live citations of `source` with the chunks the index holds for it now.

    Returns the re-pointed citations ((instance id, old chunk id) -> new chunk id: the same text under a
    new id) and the findings (text gone). One rule, shared by every store.
    """
    ids = {passage.chunk_id for passage in current}
    by_hash: dict[str, str] = {}
    for passage in current:
        by_hash.setdefault(passage.content_hash, passage.chunk_id)
    moved: dict[tuple[str, str], str] = {}
    findings: list[Finding] = []
    for instance_id, cited in live:
        if cited.chunk_id in ids:
            continue
        new_id = by_hash.get(cited.content_hash) if cited.content_hash else None
        if new_id is not None:
            moved[(instance_id, cited.chunk_id)] = new_id
            continue
        change: Change = "deleted" if deleted or not current else "changed"
        findings.append(Finding(instance_id, cited.chunk_id, source, cited.page, change, found_at))
    return moved, findings


class ProvenanceStore(Protocol):
    """Where answers' citations, pending re-index work and pending Stale events are kept.

    Every write is idempotent (keyed by instance id, chunk id, source or event id).
    """

    def record_answer(self, record: AnswerRecord) -> None:
        """Keep (or keep again, unchanged) a published answer and its citations."""

    def answers_citing(self, chunk_id: str) -> list[str]:
        """Instance ids of the answers whose live citations include this chunk (one indexed query)."""

    def live_citations(self, source: str) -> list[tuple[str, CitedPassage]]:
        """(instance id, citation) of every live citation of `source`."""

    def cited_sources(self) -> list[str]:
        """Every source some live citation points at."""

    def mark_changing(self, sources: Sequence[str], *, now: str) -> None:
        """Before the index writes these sources: if we crash, the next run settles them."""

    def changing(self) -> list[str]:
        """Sources marked changing and not yet settled."""

    def settle(self, source: str, moved: Mapping[tuple[str, str], str], findings: Sequence[Finding]) -> None:
        """Re-point moved citations, turn found ones stale, keep the findings, and clear the mark."""

    def unsealed(self) -> list[Finding]:
        """Findings not yet turned into pending events."""

    def answer(self, instance_id: str) -> AnswerRecord | None:
        """The recorded answer (its citations as first recorded), None when unknown."""

    def seal(self, events: Sequence[PendingStale], findings: Sequence[Finding]) -> None:
        """Record these pending events and forget the findings they were made of."""

    def pending(self, limit: int = 500) -> list[PendingStale]:
        """Recorded events not yet published, oldest first."""

    def mark_published(self, event_ids: Sequence[str], *, now: str) -> None:
        """These events are out."""

    def stale_mark(self, instance_id: str) -> StaleMark | None:
        """The newest Stale event recorded for an answer, None if it is not stale."""

    def stale_counts(self) -> dict[str, int]:
        """Stale answers per source."""

    def prune(self, *, before: str) -> int:
        """Forget answers published before `before` (RFC 3339) and their citations; returns answers removed."""

    def close(self) -> None: ...
