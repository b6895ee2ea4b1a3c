"""A durable local queue with Service Bus semantics, in the host's SQLite file.

Peek-lock receive (a lock token and a lock expiry), delivery count, complete/abandon, and dead-lettering after
``max_delivery_count`` deliveries (reason ``MaxDeliveryCountExceeded``, description naming the last error).
Usable on its own from another process on the same file: ``pipeline enqueue`` sends while ``pipeline serve``
consumes. Duplicate detection is not provided (the app dedupes by ``message_id``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from embedded_host.durable.store import connect, transaction

__all__ = ["DEAD_LETTER_REASON_PROPERTY", "DeadLetter", "LocalQueue", "QueueMessage", "list_dead_letters"]

DEAD_LETTER_REASON_PROPERTY = "DeadLetterReason"
DEAD_LETTER_DESCRIPTION_PROPERTY = "DeadLetterErrorDescription"
MAX_DELIVERY_REASON = "MaxDeliveryCountExceeded"


@dataclass(frozen=True)
class QueueMessage:
    """A message as received (locked) from the queue."""

    seq: int
    queue: str
    message_id: str
    body: bytes
    content_type: str | None
    correlation_id: str | None
    application_properties: dict[str, Any]
    enqueued_time_utc: datetime
    delivery_count: int
    lock_token: str
    locked_until_utc: datetime


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered message and why."""

    queue: str
    message_id: str
    body: bytes
    reason: str | None
    description: str | None
    application_properties: dict[str, Any] = field(default_factory=dict)
    enqueued_time_utc: datetime | None = None
    dead_lettered_time_utc: datetime | None = None
    delivery_count: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (body as text when it is UTF-8)."""
        try:
            body: Any = self.body.decode("utf-8")
        except UnicodeDecodeError:
            body = self.body.hex()
        return {
            "queue": self.queue,
            "message_id": self.message_id,
            "reason": self.reason,
            "description": self.description,
            "body": body,
            "application_properties": self.application_properties,
            "enqueued_time": self.enqueued_time_utc.isoformat() if self.enqueued_time_utc else None,
            "dead_lettered_time": self.dead_lettered_time_utc.isoformat() if self.dead_lettered_time_utc else None,
            "delivery_count": self.delivery_count,
        }


def _utc(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _body_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


class LocalQueue:
    """One named queue in the state file; thread-safe; open it from any process."""

    def __init__(
        self,
        db_path: Path,
        name: str,
        *,
        max_delivery_count: int = 10,
        lock_duration_s: float = 30.0,
        connection: sqlite3.Connection | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.name = name
        self.max_delivery_count = max_delivery_count
        self.lock_duration_s = lock_duration_s
        self._conn = connection or connect(self.db_path, check_same_thread=False)
        self._owns_conn = connection is None
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._owns_conn:
            self._conn.close()

    def __enter__(self) -> LocalQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producing -------------------------------------------------------------------------------------------
    def send(
        self,
        body: bytes | str,
        message_id: str | None = None,
        application_properties: Mapping[str, Any] | None = None,
        content_type: str | None = None,
        correlation_id: str | None = None,
    ) -> str:
        """Enqueue one message durably; returns its ``message_id`` (a new uuid hex when not given)."""
        message_id = message_id or uuid.uuid4().hex
        with self._lock:
            self._conn.execute(
                "INSERT INTO queue_messages (queue, message_id, body, content_type, correlation_id,"
                " application_properties, enqueued_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.name,
                    message_id,
                    _body_bytes(body),
                    content_type,
                    correlation_id,
                    json.dumps(dict(application_properties or {})),
                    time.time(),
                ),
            )
        return message_id

    # -- consuming -------------------------------------------------------------------------------------------
    def receive(self, max_messages: int = 1) -> list[QueueMessage]:
        """Peek-lock up to ``max_messages`` messages (oldest first); each delivery adds one to its count."""
        now = time.time()
        received: list[QueueMessage] = []
        with self._lock, transaction(self._conn) as conn:
            rows = conn.execute(
                "SELECT seq, message_id, body, content_type, correlation_id, application_properties,"
                " enqueued_time, delivery_count, last_error FROM queue_messages"
                " WHERE queue = ? AND state = 'active' AND (locked_until IS NULL OR locked_until <= ?)"
                " ORDER BY seq LIMIT ?",
                (self.name, now, max_messages * 2 + 4),
            ).fetchall()
            for seq, mid, body, ctype, corr, props, enq, count, last_error in rows:
                if count >= self.max_delivery_count:
                    # Its last lock expired after the final delivery (consumer crashed): as Service Bus does.
                    self._dead_letter_row(seq, MAX_DELIVERY_REASON, self._max_delivery_text(count, last_error))
                    continue
                if len(received) >= max_messages:
                    break
                token = uuid.uuid4().hex
                until = now + self.lock_duration_s
                conn.execute(
                    "UPDATE queue_messages SET delivery_count = delivery_count + 1, lock_token = ?,"
                    " locked_until = ? WHERE seq = ?",
                    (token, until, seq),
                )
                message = self._message((seq, mid, body, ctype, corr, props, enq, count))
                until_utc = _utc(until) or datetime.now(UTC)
                received.append(
                    replace(message, delivery_count=count + 1, lock_token=token, locked_until_utc=until_utc)
                )
        return received

    def release_locks(self) -> int:
        """Unlock every locked message of this queue now, rather than when its lock expires.

        Only for a consumer starting on a state file no one else consumes (the host holds the data-dir lock):
        any lock left is a dead consumer's, and waiting out a lock duration of minutes would only stall those
        messages. Their delivery count already counts the lost delivery, as when a lock expires.
        """
        with self._lock:
            cur = self._conn.execute(
                "UPDATE queue_messages SET lock_token = NULL, locked_until = NULL"
                " WHERE queue = ? AND state = 'active' AND lock_token IS NOT NULL",
                (self.name,),
            )
        return cur.rowcount

    def complete(
        self,
        message: QueueMessage,
        outputs: Iterable[tuple[str, bytes | str, Mapping[str, Any] | None, str | None]] = (),
    ) -> bool:
        """Settle a message as done and, in the same transaction, send ``outputs`` (queue, body, props, type).

        Returns False (and sends nothing) when the lock was lost: the message will be delivered again.
        """
        with self._lock, transaction(self._conn) as conn:
            deleted = conn.execute(
                "DELETE FROM queue_messages WHERE seq = ? AND lock_token = ?", (message.seq, message.lock_token)
            ).rowcount
            if deleted:
                now = time.time()
                for queue, body, props, ctype in outputs:
                    conn.execute(
                        "INSERT INTO queue_messages (queue, message_id, body, content_type,"
                        " application_properties, enqueued_time) VALUES (?, ?, ?, ?, ?, ?)",
                        (queue, uuid.uuid4().hex, _body_bytes(body), ctype, json.dumps(dict(props or {})), now),
                    )
        return bool(deleted)

    def abandon(self, message: QueueMessage, error: str | None = None) -> None:
        """Release the lock for another delivery; past the max delivery count the message is dead-lettered."""
        with self._lock, transaction(self._conn) as conn:
            row = conn.execute(
                "SELECT delivery_count FROM queue_messages WHERE seq = ? AND lock_token = ?",
                (message.seq, message.lock_token),
            ).fetchone()
            if row is not None:
                if row[0] >= self.max_delivery_count:
                    conn.execute("UPDATE queue_messages SET last_error = ? WHERE seq = ?", (error, message.seq))
                    self._dead_letter_row(message.seq, MAX_DELIVERY_REASON, self._max_delivery_text(row[0], error))
                else:
                    conn.execute(
                        "UPDATE queue_messages SET lock_token = NULL, locked_until = NULL, last_error = ?"
                        " WHERE seq = ?",
                        (error, message.seq),
                    )

    def dead_letter(self, message: QueueMessage, reason: str, description: str | None = None) -> None:
        """Move a locked message to the dead-letter sub-queue."""
        with self._lock, transaction(self._conn) as conn:
            row = conn.execute(
                "SELECT 1 FROM queue_messages WHERE seq = ? AND lock_token = ?", (message.seq, message.lock_token)
            ).fetchone()
            if row is not None:
                self._dead_letter_row(message.seq, reason, description)

    def _max_delivery_text(self, count: int, error: str | None) -> str:
        return (
            f"Message could not be consumed after {count} delivery attempts. "
            f"Last error: {error or 'lock expired (consumer stopped)'}"
        )

    def _dead_letter_row(self, seq: int, reason: str, description: str | None) -> None:
        self._conn.execute(
            "UPDATE queue_messages SET state = 'dead', lock_token = NULL, locked_until = NULL,"
            " dead_letter_reason = ?, dead_letter_description = ?, dead_lettered_time = ? WHERE seq = ?",
            (reason, description, time.time(), seq),
        )

    # -- inspecting ------------------------------------------------------------------------------------------
    def active_count(self) -> int:
        """Messages waiting or locked (not dead-lettered)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM queue_messages WHERE queue = ? AND state = 'active'", (self.name,)
            ).fetchone()
        return int(row[0])

    def peek(self, max_messages: int = 100) -> list[QueueMessage]:
        """Active messages, oldest first, without locking them or counting a delivery (``lock_token`` empty)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, message_id, body, content_type, correlation_id, application_properties, enqueued_time,"
                " delivery_count FROM queue_messages WHERE queue = ? AND state = 'active' ORDER BY seq LIMIT ?",
                (self.name, max_messages),
            ).fetchall()
        return [self._message(row) for row in rows]

    def _message(self, row: tuple[Any, ...]) -> QueueMessage:
        """A message from its row (``seq`` … ``delivery_count``) as ``peek`` shows it: not locked."""
        seq, mid, body, ctype, corr, props, enq, count = row
        return QueueMessage(
            seq=seq,
            queue=self.name,
            message_id=mid,
            body=bytes(body),
            content_type=ctype,
            correlation_id=corr,
            application_properties=json.loads(props or "{}"),
            enqueued_time_utc=_utc(enq) or datetime.now(UTC),
            delivery_count=count,
            lock_token="",
            locked_until_utc=_utc(enq) or datetime.now(UTC),
        )

    def dead_letters(self) -> list[DeadLetter]:
        """This queue's dead-letter sub-queue."""
        return _dead_letters(self._conn, self._lock, self.name)


def _dead_letters(conn: sqlite3.Connection, lock: threading.Lock, queue: str | None) -> list[DeadLetter]:
    """Dead-lettered by the queue itself, or moved by an app with a ``DeadLetterReason`` application property
    (the Service Bus convention). Other conventions an app uses are the app's to read (see ``peek``)."""
    sql = (
        "SELECT queue, message_id, body, state, dead_letter_reason, dead_letter_description,"
        " application_properties, enqueued_time, dead_lettered_time, delivery_count FROM queue_messages"
        " WHERE (state = 'dead' OR application_properties LIKE ?)"
    )
    args: list[Any] = [f'%"{DEAD_LETTER_REASON_PROPERTY}"%']
    if queue is not None:
        sql += " AND queue = ?"
        args.append(queue)
    with lock:
        rows = conn.execute(sql + " ORDER BY seq", args).fetchall()
    letters = []
    for q, mid, body, state, reason, desc, props, enq, dead_at, count in rows:
        properties = json.loads(props or "{}")
        if state != "dead":
            reason = str(properties.get(DEAD_LETTER_REASON_PROPERTY))
            desc = properties.get(DEAD_LETTER_DESCRIPTION_PROPERTY)
            dead_at = enq
        letters.append(
            DeadLetter(
                queue=q,
                message_id=mid,
                body=bytes(body),
                reason=reason,
                description=desc,
                application_properties=properties,
                enqueued_time_utc=_utc(enq),
                dead_lettered_time_utc=_utc(dead_at),
                delivery_count=count,
            )
        )
    return letters


def list_dead_letters(db_path: Path, queue: str | None = None) -> list[DeadLetter]:
    """Dead letters of every queue (or one): dead-lettered by the queue itself, or moved by the app with a
    ``DeadLetterReason`` application property."""
    conn = connect(Path(db_path))
    try:
        return _dead_letters(conn, threading.Lock(), queue)
    finally:
        conn.close()
