"""`pipeline enqueue` and `pipeline dead-letters`: the producer and the dead-letter view."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from cli.environment import data_dir, settings
from cli.errors import CliError
from cli.problems import describe, reasons
from cli.producer import read_questions_file
from contracts import Question
from contracts.queue import OutgoingMessage, PeekedDeadLetters
from providers.base import QuestionQueue
from providers.errors import ProviderError
from providers.factory import open_question_queue, provider_plan

# Enough for a terminal or a script; Service Bus peeks at most this many per queue.
MAX_PEEK = 1000

__all__ = ["dedupe_dead_letters", "local_dead_letter", "run_dead_letters", "run_enqueue", "send_messages"]

T = TypeVar("T")


def _messages(
    question: str | None,
    *,
    top_k: int,
    request_id: str | None,
    file: Path | None,
    raw: str | None,
    raw_file: Path | None = None,
    message_id: str | None,
    traceparent: str | None,
) -> list[OutgoingMessage]:
    if raw is not None or raw_file is not None:  # sent as it is, as a misbehaving producer might
        props = {"traceparent": traceparent} if traceparent else {}
        return [OutgoingMessage(_raw_body(raw, raw_file), message_id or _new_id(), props, content_type=None)]
    if file is not None:
        return list(read_questions_file(file, traceparent=traceparent))
    try:
        q = Question(question=question or "", top_k=top_k, request_id=request_id)
    except ValidationError as exc:
        raise CliError(describe(reasons(exc)), 2) from None
    return [OutgoingMessage.for_question(q, message_id=message_id, traceparent=traceparent)]


def _raw_body(raw: str | None, raw_file: Path | None) -> bytes:
    if raw_file is not None:
        try:
            return raw_file.read_bytes()
        except OSError as error:
            raise CliError(f"cannot read {raw_file}: {error.strerror or error}", 2) from None
    # os.fsencode gives back the argument's own bytes, even those that are not UTF-8 (surrogateescape).
    return os.fsencode(raw or "")


def _new_id() -> str:
    import uuid

    return uuid.uuid4().hex


def run_enqueue(question: str | None, **options: Any) -> int:
    messages = _messages(question, **options)
    s = settings()
    on_service_bus = provider_plan(s).queue.backend == "service-bus"
    if not on_service_bus:
        from cli.state_folder import announce_new_state_folder

        announce_new_state_folder(data_dir())
    sent = _with_queue(lambda queue: queue.send(messages))
    if on_service_bus:
        print(f"sent {sent} message(s) to Service Bus queue {s.pipeline_queue_name}")
        return 0
    for message in messages[:20]:
        print(f"enqueued {message.message_id}")
    if len(messages) > 20:
        print(f"... {len(messages)} message(s) in all")
    print(f"to the local queue {s.pipeline_queue_name} in {data_dir()}; `pipeline serve` consumes it")
    return 0


def _with_queue(use: Callable[[QuestionQueue], T]) -> T:
    """Use the configured question queue, closing it after; its errors become the CLI's one line."""
    try:
        queue = open_question_queue(settings())
        try:
            return use(queue)
        finally:
            queue.close()
    except ProviderError as error:
        raise CliError(error.message) from None


def send_messages(messages: list[OutgoingMessage]) -> str:
    """Send to the configured question queue (Service Bus, or the local queue); returns where they went."""
    s = settings()
    on_service_bus = provider_plan(s).queue.backend == "service-bus"
    if not on_service_bus:
        from cli.state_folder import announce_new_state_folder

        announce_new_state_folder(data_dir())
    _with_queue(lambda queue: queue.send(messages))
    if on_service_bus:
        return f"Service Bus queue {s.pipeline_queue_name}"
    return f"the local queue {s.pipeline_queue_name} in {data_dir()}"


def run_dead_letters(*, as_json: bool) -> int:
    """Messages the queue dead-lettered (max deliveries) and those the app rejected, with their reasons:
    from Service Bus when it is configured, else from the local queue."""
    peeked: PeekedDeadLetters = _with_queue(lambda queue: queue.peek_dead_letters(MAX_PEEK))
    rows = dedupe_dead_letters([row.model_dump(mode="json") for row in peeked.items])
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        if not rows:
            print("no dead-lettered messages" + (" in the queues that could be read" if peeked.errors else ""))
        for row in rows:
            copies = f" ({row['copies']} copies)" if row["copies"] > 1 else ""
            print(f"{row.get('message_id')}: {row.get('reason')}: {row.get('description')}{copies}")
    # A queue that could not be peeked is said on stderr, and the exit code says the list is partial.
    for failure in peeked.errors:
        print(f"error: cannot peek {failure['queue']}: {failure['error']}", file=sys.stderr)
    return 1 if peeked.errors else 0


def dedupe_dead_letters(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (queue, original message id), with `copies` counting how many were found.

    On Azure the starter's dead-letter output binding is not atomic with completing the trigger
    message: if the function is retried after the binding ran (a crash, a lost lock), the same invalid
    message is moved to `questions-deadletter` twice. Rows without a message id are all kept.
    """
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    unique: list[dict[str, Any]] = []
    for row in rows:
        key = (str(row.get("queue")), str(row.get("message_id") or ""))
        if key[1] and key in seen:
            seen[key]["copies"] += 1
            continue
        row = {**row, "copies": 1}
        seen[key] = row
        unique.append(row)
    return unique


def local_dead_letter(message_id: str) -> dict[str, Any] | None:
    """The local dead-letter row of this message id, if it was dead-lettered."""
    from providers.local.question_queue import LocalQuestionQueue

    rows = LocalQuestionQueue(settings()).peek_dead_letters(MAX_PEEK).items
    return next((row.model_dump(mode="json") for row in rows if row.message_id == message_id), None)
