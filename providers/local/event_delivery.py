"""Delivery of local CloudEvents to webhooks: the worker behind `LocalEventSink`.

A `DeliveryWorker` (a daemon thread the sink starts on first use, or run on its own) POSTs each
event to every `PIPELINE_EVENT_WEBHOOKS` URL in the CloudEvents HTTP structured mode, retrying
408/429/5xx and network errors with exponential backoff and jitter (honouring Retry-After) until
a retry window closes; what cannot be delivered goes to `events-undelivered.jsonl` with the
reason, never dropped silently. Rows are leased, so several workers (processes) never POST the
same row at once; delivery is at least once and subscribers dedupe on source+id.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

from providers.local.event_outbox import (
    EVENTS_FILE,
    UNDELIVERED_FILE,
    Delivery,
    EventOutbox,
    append_line,
    ids_in_tail,
)
from providers.local.sqlite_files import cannot_write, full_disk_note
from providers.retrying import Backoff, retry_after_seconds
from providers.urls import shown_url

if TYPE_CHECKING:
    import httpx

__all__ = ["CONTENT_TYPE", "DEFAULT_RETRY_WINDOW_S", "Backoff", "DeliveryWorker"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
DEFAULT_RETRY_WINDOW_S = 24 * 3600.0  # Event Grid's default event time-to-live
_RETENTION_S = 7 * 24 * 3600.0  # finished outbox rows (and the idempotency memory) kept this long
_PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class _Outcome:
    delivered: bool
    retryable: bool
    reason: str
    retry_after_s: float | None = None


def _is_dead_owner(owner: str) -> bool:
    """A lease owner that was a process on this machine and is gone (killed mid-delivery)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False


class DeliveryWorker:
    """Delivers pending outbox rows of one data directory; one per process is enough.

    Any number may run at once, in any processes: rows are leased, so each is POSTed by one
    worker at a time, and rows a crashed process left behind are picked up when their lease ends.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        backoff: Backoff | None = None,
        retry_window_s: float = DEFAULT_RETRY_WINDOW_S,
        request_timeout_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        poll_interval_s: float = 1.0,
        lease_s: float = 60.0,
        log_grace_s: float = 10.0,
        batch_size: int = 16,
        concurrency: int = 8,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.backoff = backoff or Backoff()
        self.retry_window_s = retry_window_s
        self.poll_interval_s = poll_interval_s
        # The lease must outlast a whole batch of hanging requests, or another worker would
        # start the same rows again while we wait.
        rounds = -(-batch_size // max(1, concurrency))
        self.lease_s = max(lease_s, rounds * (request_timeout_s + connect_timeout_s) * 2)
        self.log_grace_s = log_grace_s
        self.batch_size = batch_size
        # host:pid:nonce, so a worker can tell a lease held by a dead process on this machine
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._timeouts = (request_timeout_s, connect_timeout_s)
        self._transport = transport
        self._concurrency = max(1, concurrency)
        self._outbox: EventOutbox | None = None
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._state_lock = threading.Lock()
        self._last_prune = 0.0
        self._disk_full = False

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Run deliveries in a daemon thread (idempotent)."""
        with self._state_lock:
            if self.running:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="pipeline-event-delivery", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look for work now instead of at the next poll (called after a publish)."""
        self._wake.set()

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Stop the thread and release the client; True if it ended within `timeout`.

        Rows in flight stay leased and are retried when the lease ends: nothing is lost.
        """
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
            self._thread = None
        self._close_resources()
        return True

    def _close_resources(self) -> None:
        with self._state_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._outbox is not None:
                self._outbox.close()
                self._outbox = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = self.run_once()
                if worked >= self.batch_size:
                    continue  # more may be due right now
                wait = self.poll_interval_s
                wakeup = self.outbox.next_wakeup()
                if wakeup is not None:
                    wait = min(wait, max(0.0, wakeup - time.time()))
            except Exception as error:  # keep delivering after a bad row, a locked database or a full disk
                self._note_failure(error)
                wait = self.poll_interval_s
            else:
                self._note_success()
            self._wake.wait(wait)
            self._wake.clear()

    def _note_failure(self, error: Exception) -> None:
        """A full disk is said once, when it starts refusing writes, not once per pass."""
        if not cannot_write(error):
            log.exception("event delivery pass failed")
        elif not self._disk_full:
            self._disk_full = True
            log.warning("event delivery paused: %s; it resumes by itself", full_disk_note(self.data_dir, error))

    def _note_success(self) -> None:
        if self._disk_full:
            self._disk_full = False
            log.warning("event delivery resumed: %s is writable again", self.data_dir)

    # -- work -------------------------------------------------------------------------------

    @property
    def outbox(self) -> EventOutbox:
        if self._outbox is None:
            self._outbox = EventOutbox(self.data_dir)
        return self._outbox

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx  # here: most processes never deliver, and httpx with its TLS set-up costs start-up time

            request_s, connect_s = self._timeouts
            self._client = httpx.Client(
                timeout=httpx.Timeout(request_s, connect=connect_s),
                transport=self._transport,
                follow_redirects=False,  # a redirect would re-POST the event somewhere unasked
                headers={"User-Agent": "durable-ai-pipeline-events/1"},
            )
        return self._client

    def run_once(self) -> int:
        """One pass: repair the log, then attempt every due row once. Returns rows attempted."""
        now = time.time()
        self.repair_log(now)
        if now - self._last_prune >= _PRUNE_EVERY_S:
            self._last_prune = now
            self.outbox.release_dead_leases(_is_dead_owner, now=now)
            self.outbox.prune(before=now - max(_RETENTION_S, self.retry_window_s * 2))
        batch = self.outbox.claim_due(self.owner, now=now, lease_s=self.lease_s, limit=self.batch_size)
        if len(batch) <= 1:
            for delivery in batch:
                self._deliver(delivery)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="pipeline-event-post")
            list(self._pool.map(self._deliver, batch))
        return len(batch)

    def repair_log(self, now: float | None = None) -> int:
        """Append the lines a crashed publisher did not write; returns lines appended."""
        now = time.time() if now is None else now
        orphans = self.outbox.claim_unlogged(now=now, claim_s=self.log_grace_s)
        if not orphans:
            return 0
        path = self.data_dir / EVENTS_FILE
        # The publisher may have died after the append but before recording it.
        present = ids_in_tail(path)
        appended = 0
        for orphan in orphans:
            if orphan.id not in present:
                append_line(path, orphan.body)
                appended += 1
            self.outbox.mark_logged(orphan.id)
        log.info("repaired events.jsonl: %d of %d unlogged events appended", appended, len(orphans))
        return appended

    def _deliver(self, delivery: Delivery) -> None:
        attempts = delivery.attempts + 1
        outcome = self._post(delivery)
        now = time.time()
        if outcome.delivered:
            self.outbox.mark_delivered(delivery, attempts=attempts, now=now)
            return
        deadline = delivery.created_at + self.retry_window_s
        if not outcome.retryable:
            self._dead_letter(delivery, attempts, outcome.reason, now)
        elif now >= deadline:
            reason = f"not delivered within the retry window of {self.retry_window_s:g}s; last error: {outcome.reason}"
            self._dead_letter(delivery, attempts, reason, now)
        else:
            wait = max(self.backoff.delay(attempts), outcome.retry_after_s or 0.0)
            # The last attempt happens at the deadline rather than never.
            next_at = min(now + wait, deadline)
            self.outbox.reschedule(
                delivery, self.owner, attempts=attempts, next_attempt_at=next_at, error=outcome.reason
            )
            log.debug(
                "event %s to %s: %s; retry in %.2fs",
                delivery.event_id,
                shown_url(delivery.url),
                outcome.reason,
                next_at - now,
            )

    def _post(self, delivery: Delivery) -> _Outcome:
        import httpx

        try:
            response = self._http().post(
                delivery.url,
                content=delivery.body.encode("utf-8"),
                headers={"Content-Type": CONTENT_TYPE},
            )
        except httpx.TimeoutException as error:
            return _Outcome(False, True, f"timeout: {type(error).__name__}")
        except httpx.TransportError as error:  # refused, reset, DNS: the subscriber may come back
            return _Outcome(False, True, f"connection error: {error or type(error).__name__}")
        status = response.status_code
        if 200 <= status < 300:
            return _Outcome(True, False, f"HTTP {status}")
        reason = f"HTTP {status} {response.reason_phrase}".strip()
        # 408 is a timeout the server reports; like 429 and 5xx it says "try again later".
        if status in (408, 429) or status >= 500:
            return _Outcome(False, True, reason, retry_after_seconds(response.headers))
        return _Outcome(False, False, reason)

    def _dead_letter(self, delivery: Delivery, attempts: int, reason: str, now: float) -> None:
        record = {
            "event": json.loads(delivery.body),
            "url": shown_url(delivery.url),  # the file feeds the monitor: no token from the URL
            "reason": reason,
            "attempts": attempts,
            "published_at": _rfc3339(delivery.created_at),
            "dead_at": _rfc3339(now),
        }
        # The file first: a crash in between re-attempts the row rather than losing it.
        append_line(self.data_dir / UNDELIVERED_FILE, json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        self.outbox.mark_dead(delivery, attempts=attempts, error=reason, now=now)
        log.warning("event %s not delivered to %s: %s", delivery.event_id, shown_url(delivery.url), reason)


def _rfc3339(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{int(timestamp % 1 * 1000):03d}Z"
