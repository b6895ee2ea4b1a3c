"""The embedded host's local queue as the question queue, for `pipeline enqueue`, `dead-letters` and the monitor.

The local queue is the embedded host's (a Service Bus stand-in in its state file), so this provider exists only
where the host does: it is never built on Azure, where the plan names Service Bus, and the deployed package
leaves the host out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.queue import DeadLetterRow, OutgoingMessage, PeekedDeadLetters
from providers.errors import ProviderError

if TYPE_CHECKING:
    from config import Settings

__all__ = ["LocalQuestionQueue"]


class LocalQuestionQueue:
    def __init__(self, settings: Settings) -> None:
        try:
            from embedded_host import state_path
        except ImportError:  # a deployed app without Service Bus settings: the host is not in the package
            raise ProviderError.configuration(
                "no question queue: set ServiceBusConnection__fullyQualifiedNamespace (or ServiceBusConnection)"
            ) from None

        self._path: Path = state_path(settings.pipeline_data_dir)
        self._queue = settings.pipeline_queue_name
        self._rejected = settings.pipeline_dead_letter_queue_name

    @property
    def destination(self) -> str:
        return f"local-queue:{self._queue}"

    def send(self, messages: Iterable[OutgoingMessage]) -> int:
        """Send each message; a disk that refuses a write stops the sending and says how many went in."""
        from embedded_host import LocalQueue
        from embedded_host.outage import cannot_write

        messages, sent = list(messages), 0
        with LocalQueue(self._path, self._queue) as queue:
            for message in messages:
                try:
                    queue.send(
                        message.body,
                        message_id=message.message_id,
                        application_properties=message.application_properties,
                        content_type=message.content_type,
                    )
                except Exception as error:
                    if not cannot_write(error):
                        raise
                    raise ProviderError.transient(
                        f"cannot write {self._path} ({error}): {sent} of {len(messages)} message(s) were enqueued;"
                        " free space and enqueue again (a message id sent twice starts one run)"
                    ) from None
                sent += 1
        return sent

    def peek_dead_letters(self, limit: int) -> PeekedDeadLetters:
        """The queue's dead letters (max deliveries) and the messages the starter rejected, newest first."""
        from embedded_host import LocalQueue

        if not self._path.exists():  # nothing was ever queued: do not create a state file to say so
            return PeekedDeadLetters()
        with LocalQueue(self._path, self._queue) as queue:
            rows = [
                DeadLetterRow.expired(
                    self._queue,
                    letter.message_id,
                    letter.body,
                    reason=letter.reason,
                    description=letter.description,
                    delivery_count=letter.delivery_count,
                    at=_seconds(letter.dead_lettered_time_utc),
                )
                for letter in queue.dead_letters()[-limit:]
            ]
        with LocalQueue(self._path, self._rejected) as queue:
            rows += [
                DeadLetterRow.rejected(self._rejected, m.message_id, m.body, _seconds(m.enqueued_time_utc))
                for m in queue.peek(max_messages=limit)
            ]
        rows.sort(key=lambda row: row.dead_lettered_at or 0.0, reverse=True)
        return PeekedDeadLetters(items=rows[:limit])

    def close(self) -> None:
        """Nothing stays open: each call opens the state file and closes it."""


def _seconds(at: datetime | None) -> float | None:
    return at.timestamp() if at is not None else None
