"""`pipeline index --reanswer`: ask each stale answer's question again, as a new run linked to the old one.

The new run's id is fixed by the Stale event (`providers.stale_answers.reanswer_instance_id`) and sent
as its `request_id`, so running the same re-index again starts nothing twice; its request metadata
carries `supersedes` = the stale run's id, which its Completed event repeats. Runs are started on an
embedded host in this process and waited for (as `pipeline ask` does); with Service Bus configured, or
a `pipeline serve` already running on this data folder, they are queued for that consumer instead.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from cli.environment import APP_DIR, data_dir, prepare_binding_settings, settings
from contracts import Question
from contracts.question import MAX_METADATA_ENTRIES
from providers.provenance import PendingStale

__all__ = ["reanswer", "reanswer_questions"]


def reanswer_questions(events: Sequence[PendingStale]) -> list[Question]:
    """One Question per Stale event that names a newer run: the same question and scopes, linked."""
    questions: list[Question] = []
    for event in events:
        if not event.superseded_by:
            continue
        metadata = dict(event.data.get("metadata") or {})
        metadata.pop("supersedes", None)
        while len(metadata) >= MAX_METADATA_ENTRIES:  # make room for the link, which matters more
            metadata.pop(sorted(metadata)[-1])
        metadata["supersedes"] = event.instance_id
        questions.append(
            Question(
                question=event.data["question"],
                scopes=event.data.get("scopes") or None,
                request_id=event.superseded_by,
                metadata=metadata,
            )
        )
    return questions


def reanswer(events: Sequence[PendingStale], *, timeout_s: float = 120.0) -> list[dict[str, Any]]:
    """Start (or find) the newer run of each event; returns the runs' statuses, or [] when they were queued."""
    questions = reanswer_questions(events)
    if not questions:
        return []
    from providers.factory import provider_plan

    if provider_plan(settings()).queue.backend == "service-bus":
        _queue(questions)
        return []
    return asyncio.run(_run_here(questions, timeout_s))


async def _run_here(questions: list[Question], timeout_s: float) -> list[dict[str, Any]]:
    import httpx

    from embedded_host import EmbeddedHost, HostAlreadyRunningError

    prepare_binding_settings()
    host = EmbeddedHost(APP_DIR, data_dir(), consume_queues=False)
    try:
        await host.start()
    except HostAlreadyRunningError:
        _queue(questions)
        return []
    try:
        async with httpx.AsyncClient(base_url=host.base_url, timeout=timeout_s) as http:
            ids = []
            for question in questions:
                started = await http.post("/api/pipeline/start", json=question.model_dump(mode="json"))
                started.raise_for_status()
                ids.append(started.json()["instance_id"])
            statuses = []
            for instance_id in ids:
                await host.wait_for_completion(instance_id, timeout=timeout_s)
                statuses.append((await http.get(f"/api/pipeline/{instance_id}")).json())
            return statuses
    finally:
        await host.stop()


def _queue(questions: list[Question]) -> None:
    """To Service Bus or the local queue, whichever `pipeline enqueue` would use; the message id is the run id."""
    from cli.producer import OutgoingMessage
    from cli.queue_commands import send_messages

    messages = [OutgoingMessage.for_question(q, message_id=q.request_id, traceparent=None) for q in questions]
    where = send_messages(messages)
    print(f"queued {len(messages)} re-answer run(s) to {where}", file=sys.stderr)
