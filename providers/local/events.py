"""The embedded default for Event Grid: CloudEvents to a JSONL log and to local webhooks.

`LocalEventSink.publish` is durable, idempotent on the event id and fast: one SQLite
transaction (see `providers.local.event_outbox`) and one appended line, never a network call,
so a slow subscriber cannot hold up the pipeline. Webhook delivery runs apart, in a
`providers.local.event_delivery.DeliveryWorker` the sink starts on first use.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from providers.base import Closing, OutgoingEvent
from providers.errors import ProviderError
from providers.local.event_delivery import DEFAULT_RETRY_WINDOW_S, Backoff, DeliveryWorker
from providers.local.event_outbox import (
    EVENTS_FILE,
    EventOutbox,
    append_line,
    append_lines,
)
from providers.local.sqlite_files import cannot_write, full_disk_note
from providers.urls import hide_in_http_logs, shown_url

if TYPE_CHECKING:
    import httpx

    from config.settings import Settings

__all__ = ["LocalEventSink", "read_events"]

log = logging.getLogger(__name__)


def _check_webhook(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderError.configuration(f"PIPELINE_EVENT_WEBHOOKS: not an http(s) URL: {shown_url(url)!r}")
    hide_in_http_logs(url)
    return url


class LocalEventSink(Closing):
    """`EventPublisher` for running without Azure: events.jsonl plus local webhooks."""

    def __init__(
        self,
        data_dir: Path | str,
        webhooks: Sequence[str] = (),
        *,
        retry_window_s: float = DEFAULT_RETRY_WINDOW_S,
        backoff: Backoff | None = None,
        request_timeout_s: float = 5.0,
        poll_interval_s: float = 1.0,
        log_grace_s: float = 10.0,
        start_worker: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.webhooks = [_check_webhook(url) for url in dict.fromkeys(webhooks)]
        self.log_grace_s = log_grace_s
        self._start_worker = start_worker
        self._worker = DeliveryWorker(
            self.data_dir,
            backoff=backoff,
            retry_window_s=retry_window_s,
            request_timeout_s=request_timeout_s,
            poll_interval_s=poll_interval_s,
            log_grace_s=log_grace_s,
            transport=transport,
        )
        self._outbox: EventOutbox | None = None  # opened on first use: no I/O at construction
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> LocalEventSink:
        """The sink for `PIPELINE_DATA_DIR`, `PIPELINE_EVENT_WEBHOOKS` and `PIPELINE_EVENT_RETRY_WINDOW_S`;
        `options` as in `__init__` (they win over settings)."""
        if settings.pipeline_event_retry_window_s is not None:
            options.setdefault("retry_window_s", settings.pipeline_event_retry_window_s)
        return cls(settings.pipeline_data_dir, settings.event_webhooks, **options)

    @property
    def destination(self) -> str:
        count = len(self.webhooks)
        if not count:
            return f"local:{EVENTS_FILE}"
        return f"local:{EVENTS_FILE}+{count} webhook{'s' if count != 1 else ''}"

    @property
    def worker(self) -> DeliveryWorker:
        return self._worker

    def _open(self) -> EventOutbox:
        with self._lock:
            if self._outbox is None:
                try:
                    self._outbox = EventOutbox(self.data_dir)
                except (OSError, sqlite3.Error) as error:
                    raise ProviderError.configuration(
                        f"cannot open the event outbox in {self.data_dir}: {error}"
                    ) from error
            return self._outbox

    def publish(self, event: OutgoingEvent) -> None:
        """Store the event, log it once, and queue it for every webhook; never waits on HTTP."""
        try:
            body = json.dumps(event.to_structured(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ProviderError.invalid_input(f"event {event.id} is not JSON-serialisable: {error}") from error
        outbox = self._open()
        try:
            new = outbox.insert(event.id, body, self.webhooks, now=time.time(), log_claim_s=self.log_grace_s)
            if new:
                append_line(self.data_dir / EVENTS_FILE, body)
                outbox.mark_logged(event.id)
        except (OSError, sqlite3.OperationalError) as error:  # busy beyond the timeout, disk full
            if cannot_write(error):
                note = full_disk_note(self.data_dir, error)
                raise ProviderError.transient(f"cannot record event {event.id}: {note}") from None
            raise ProviderError.transient(f"cannot record event {event.id}: {error}") from error
        except sqlite3.Error as error:  # a damaged database: worth a retry, but a bug or a crash
            raise ProviderError.internal(f"event outbox error for {event.id}: {error}") from error
        if self._start_worker:
            # Started even with no webhooks: it also repairs lines left by a crashed process.
            self._worker.start()
            self._worker.wake()

    def publish_many(self, events: Sequence[OutgoingEvent]) -> None:
        """`publish` for a batch (the Stale events of a re-index): one transaction and one append for all."""
        bodies: dict[str, str] = {}
        for event in events:
            try:
                bodies[event.id] = json.dumps(
                    event.to_structured(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
                )
            except (TypeError, ValueError) as error:
                raise ProviderError.invalid_input(f"event {event.id} is not JSON-serialisable: {error}") from error
        outbox = self._open()
        try:
            new = outbox.insert_many(list(bodies.items()), self.webhooks, now=time.time(), log_claim_s=self.log_grace_s)
            if new:
                append_lines(self.data_dir / EVENTS_FILE, [bodies[event_id] for event_id in new])
                outbox.mark_logged_many(new)
        except (OSError, sqlite3.OperationalError) as error:
            raise ProviderError.transient(f"cannot record {len(bodies)} events: {error}") from error
        except sqlite3.Error as error:
            raise ProviderError.internal(f"event outbox error for a batch of {len(bodies)}: {error}") from error
        if self._start_worker:
            self._worker.start()
            self._worker.wake()

    def start(self) -> None:
        """Start delivering now (e.g. when the local host starts) rather than on first publish.

        Opens the outbox first, so a file that cannot be used stops the start (`ProviderError`).
        """
        self._open()
        self._worker.start()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until nothing is pending or unlogged; True if that happened within `timeout_s`.

        For short-lived processes (`pipeline ask`) that would otherwise exit before delivering;
        what is left is delivered by the next process that starts a worker.
        """
        outbox = self._open()
        self._worker.start()
        deadline = time.monotonic() + timeout_s
        while True:
            counts = outbox.counts()
            if counts["pending"] == 0 and counts["unlogged"] == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            self._worker.wake()
            time.sleep(0.02)

    def pending(self) -> int:
        """Deliveries not yet made (waiting for a retry, or never tried)."""
        return self._open().counts()["pending"]

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the worker and close the database; pending rows stay for the next worker."""
        self._worker.stop(timeout_s)
        with self._lock:
            if self._outbox is not None:
                self._outbox.close()
                self._outbox = None


def read_events(
    data_dir: Path | str,
    follow: bool = False,
    *,
    poll_interval_s: float = 0.25,
    stop: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """The events of events.jsonl in order; with `follow`, keep waiting for new ones (tail -f).

    Follow mode survives the file not existing yet and being truncated or replaced; it ends
    when `stop` is set (or when the caller stops iterating). Unreadable lines are skipped.
    """
    path = Path(data_dir) / EVENTS_FILE
    position = 0
    inode: int | None = None
    pending = b""
    while True:
        chunk = b""
        try:
            with path.open("rb") as file:
                stat = os.fstat(file.fileno())
                size, ino = stat.st_size, stat.st_ino
                if ino != inode or size < position:  # replaced or truncated: start over
                    inode, position, pending = ino, 0, b""
                file.seek(position)
                chunk = file.read()
                position += len(chunk)
        except FileNotFoundError:
            pass
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                log.warning("skipping an unreadable line in %s", path)
                continue
            if isinstance(record, dict):
                yield record
        if not follow or (stop is not None and stop.is_set()):
            return
        if stop is not None:
            stop.wait(poll_interval_s)
        else:
            time.sleep(poll_interval_s)
