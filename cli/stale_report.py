"""The stale-answer half of `pipeline index`: track the writes, then tell subscribers and say what was done.

`track_stale_answers` wraps the index writer in a `providers.stale_answers.StaleTracker` when answers are
recorded (a provenance store is configured) and the index can list a source's passages;
`tell_stale_answers` seals what the run found into Stale events, publishes them through the answers'
publisher (with any left pending by an earlier, interrupted run) and, with `--reanswer`, asks again.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from config import get_settings
from providers.provenance import PendingStale, ProvenanceStore

__all__ = ["tell_stale_answers", "track_stale_answers"]

# Enough for a live local subscriber, short enough not to hold the command up; the rest resumes later.
_WEBHOOK_GRACE_S = 2.0


def track_stale_answers(writer: Any) -> Any:
    from providers.factory import get_provenance

    store = get_provenance()
    passages_of = getattr(writer, "source_passages", None)
    if store is None or not callable(passages_of):
        return writer
    _forget_expired_answers(store)
    from providers.stale_answers import StaleTracker

    return StaleTracker(writer, store, passages_of)


def _forget_expired_answers(store: ProvenanceStore) -> None:
    """Provenance follows the run retention (`PIPELINE_RETENTION_DAYS`): an answer whose run the host purges is
    no longer told it went stale. Unset, answers are kept, as runs are."""
    days = get_settings().pipeline_retention_days
    if days:
        before = datetime.now(UTC) - timedelta(days=days)
        store.prune(before=before.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def tell_stale_answers(*, reanswer: bool) -> bool:
    """Publish the Stale events this run (or an interrupted one) found; False when some are left unpublished."""
    from providers.factory import get_provenance, get_publisher, shutdown
    from providers.stale_answers import publish_pending, seal

    store = get_provenance()
    if store is None:
        return True
    sealed = seal(store, reanswer=reanswer)
    targets: dict[str, PendingStale] = {e.id: e for e in store.pending(1_000_000) if e.superseded_by}
    targets.update({e.id: e for e in sealed if e.superseded_by})
    if not sealed and not targets and not store.pending(1):
        return True
    report = publish_pending(store, get_publisher(), event_source=get_settings().pipeline_event_source)
    if report.published:
        sources = sorted({name for e in sealed for name in e.data.get("sources", [])})
        shown = ", ".join(sources[:5]) + (f" and {len(sources) - 5} more" if len(sources) > 5 else "")
        print(
            f"{report.published} stale answer(s): DurableAIPipeline.Answer.Stale published"
            + (f" (changed: {shown})" if shown else ""),
            file=sys.stderr,
        )
    if report.left:
        print(
            f"{report.left} Stale event(s) not published ({report.error}); kept, and sent by the next `pipeline index`",
            file=sys.stderr,
        )
    if reanswer and targets:
        _reanswer(list(targets.values()))
    shutdown(flush_timeout_s=_WEBHOOK_GRACE_S)
    return not report.left


def _reanswer(events: list[PendingStale]) -> None:
    from cli.reanswer import reanswer

    for status in reanswer(events):
        result = status.get("result") or {}
        supersedes = (result.get("metadata") or {}).get("supersedes", "?")
        print(
            f"re-answered {supersedes} as {status.get('instance_id')} ({status.get('runtime_status')}): "
            + " ".join(str(result.get("answer") or status.get("error") or "").split())[:200],
            file=sys.stderr,
        )
