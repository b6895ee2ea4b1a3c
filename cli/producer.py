"""Producer side of `pipeline enqueue`: the messages to send, from a question or a JSONL file.

Every message carries a `message_id` (the run's idempotency key) and the producer's `traceparent`.
Where they go (Service Bus or the local queue) is `cli.queue_commands`' choice.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from cli.errors import CliError
from cli.problems import FILE_FIELDS, reasons
from contracts import Question
from contracts.queue import OutgoingMessage

__all__ = ["OutgoingMessage", "read_questions_file"]


# Enough to fix a file in one pass without flooding the terminal.
_MAX_REASONS = 50


def read_questions_file(path: Path, *, traceparent: str | None) -> list[OutgoingMessage]:
    """One Question per line of a JSONL file. Nothing is sent from a file with a bad line, and every reason
    of every bad line is listed, so one edit fixes them all."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", 2) from None
    messages: list[OutgoingMessage] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            question = Question.model_validate_json(line)
        except ValidationError as exc:
            problems += [f"{path}:{number}: {reason}" for reason in reasons(exc, FILE_FIELDS)]
            continue
        messages.append(OutgoingMessage.for_question(question, message_id=None, traceparent=traceparent))
    if problems:
        shown = problems[:_MAX_REASONS]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise CliError(f"{len(problems)} problem(s), nothing sent:\n" + "\n".join(shown) + more, 2)
    return messages
