"""`pipeline events`: the published CloudEvents, one readable line each, or raw with `--json`.

A raw event is about 2 KB of JSON (the whole result); the line shows what a person scans for: when, what
happened, to which run, and the first words of the answer or the failure.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

from cli.environment import data_dir

__all__ = ["event_line", "run_events"]

_TYPE_PREFIX = "DurableAIPipeline.Answer."
_WORDS = 12


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


def _instance_of(event: dict[str, Any]) -> str:
    data = _data(event)
    subject = str(event.get("subject") or "")
    return str(data.get("instance_id") or subject.removeprefix("pipeline/"))


def _first_words(text: str, count: int = _WORDS) -> str:
    words = text.split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")


def event_line(event: dict[str, Any]) -> str:
    """`TIME  TYPE  INSTANCE  STATUS  first words`: one line per event, whatever its type."""
    data = _data(event)
    kind = str(event.get("type") or "?").removeprefix(_TYPE_PREFIX)
    if "answer" in data:
        confidence = data.get("confidence")
        status = f"{len(data.get('citations') or [])} citation(s)" + (
            f", confidence {confidence:.2f}" if isinstance(confidence, int | float) else ""
        )
        text = str(data["answer"])
    elif "passages" in data:  # Stale: what changed, and the run that answers again
        newer = data.get("superseded_by")
        status = "changed: " + ", ".join(data.get("sources") or []) + (f"; newer run {newer}" if newer else "")
        text = str(data.get("question") or "")
    elif "step" in data:
        status = f"at {data['step']} ({data.get('error_kind')}, {data.get('attempts')} attempt(s))"
        text = str(data.get("message") or "")
    else:
        status, text = "", str(data.get("question") or "")
    return "  ".join(part for part in (str(event.get("time") or "?"), kind, _instance_of(event), status) if part) + (
        f"  “{_first_words(text)}”" if text else ""
    )


def _matches(event: dict[str, Any], instance: str | None, kind: str | None) -> bool:
    if instance is not None and _instance_of(event) != instance:
        return False
    if kind is not None:
        full = str(event.get("type") or "").lower()
        # `--type Completed` or the full `DurableAIPipeline.Answer.Completed`.
        if full != kind.lower() and full.removeprefix(_TYPE_PREFIX.lower()) != kind.lower():
            return False
    return True


def _events(follow: bool, instance: str | None, kind: str | None, tail: int | None) -> Iterator[dict[str, Any]]:
    from providers.local.events import read_events

    if tail is None:
        yield from (e for e in read_events(data_dir(), follow=follow) if _matches(e, instance, kind))
        return
    seen = 0
    last: deque[dict[str, Any]] = deque(maxlen=tail)
    for event in read_events(data_dir()):
        seen += 1
        if _matches(event, instance, kind):
            last.append(event)
    yield from last
    if follow:  # then what arrives after the ones already read
        for number, event in enumerate(read_events(data_dir(), follow=True)):
            if number >= seen and _matches(event, instance, kind):
                yield event


def run_events(
    *,
    follow: bool,
    as_json: bool = False,
    instance: str | None = None,
    kind: str | None = None,
    tail: int | None = None,
) -> int:
    try:
        for event in _events(follow, instance, kind, tail):
            print(json.dumps(event) if as_json else event_line(event), flush=True)
    except KeyboardInterrupt:
        pass
    return 0
