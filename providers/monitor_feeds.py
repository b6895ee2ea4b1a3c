"""What the monitor's feeds read: dead-lettered questions and CloudEvents that could not be delivered.

Dead letters come from the question queue the plan names (Service Bus, peeked: nothing is locked or removed;
else the embedded host's local queue). Undelivered events exist locally only (``events-undelivered.jsonl``);
on Azure, Event Grid keeps its own dead letters in the blob container its subscription names, which this app
cannot see, so the feed says so instead of showing nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config import Settings
from providers.factory import open_question_queue, provider_plan
from providers.urls import shown_url

__all__ = ["MAX_ROWS", "read_dead_letters", "read_undelivered_events"]

MAX_ROWS = 500
UNDELIVERED_FILE = "events-undelivered.jsonl"
_TAIL_BYTES = 4 << 20


def read_dead_letters(settings: Settings) -> dict[str, Any]:
    """``{"source", "items", "errors"}``: newest first where the source records when, at most ``MAX_ROWS``;
    ``errors`` has one entry per queue that could not be peeked (the other queue's rows are still shown)."""
    queue = open_question_queue(settings)
    try:
        peeked = queue.peek_dead_letters(MAX_ROWS)
    finally:
        queue.close()
    source = "service-bus" if provider_plan(settings).queue.backend == "service-bus" else "local"
    return {
        "source": source,
        "items": [row.model_dump(mode="json") for row in peeked.items[:MAX_ROWS]],
        "errors": peeked.errors,
    }


def read_undelivered_events(settings: Settings) -> dict[str, Any]:
    """``{"source", "items"}`` (newest first), or ``"available": false`` with the reason on Azure."""
    if provider_plan(settings).events.backend == "event-grid":
        return {
            "source": "event-grid",
            "available": False,
            "items": [],
            "detail": "Event Grid keeps undelivered events in the dead-letter blob container of its "
            "subscription; this app cannot read them.",
        }
    path = Path(settings.pipeline_data_dir) / UNDELIVERED_FILE
    items: list[dict[str, Any]] = []
    if path.exists():
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - _TAIL_BYTES))  # the newest lines are what matters; the file only grows
            lines = fh.read().splitlines()
        if size > _TAIL_BYTES:
            lines = lines[1:]  # the first line may be cut
        for line in reversed(lines):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                if isinstance(record.get("url"), str):  # files written before URLs were redacted at the source
                    record["url"] = shown_url(record["url"])
                items.append(record)
            if len(items) >= MAX_ROWS:
                break
    return {"source": "local", "available": True, "items": items}
