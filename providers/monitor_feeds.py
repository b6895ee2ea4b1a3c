"""What the monitor's feeds read: dead-lettered questions and CloudEvents that could not be delivered.

Dead letters come from Service Bus when it is configured (peeked: nothing is locked or removed), else from
the local queue's state file under ``PIPELINE_DATA_DIR``, opened read-only: the app does not import the
embedded host, so it reads the file the host keeps, as it reads ``events.jsonl``. Undelivered events exist
locally only (``events-undelivered.jsonl``); on Azure, Event Grid keeps its own dead letters in the blob
container its subscription names, which this app cannot see, so the feed says so instead of showing nothing.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import Settings
from providers.urls import shown_url

__all__ = [
    "MAX_ROWS",
    "PeekedDeadLetters",
    "peek_service_bus_dead_letters",
    "read_dead_letters",
    "read_undelivered_events",
    "rejected_row",
    "service_bus_client",
]

MAX_ROWS = 500
STATE_FILE = "durable.sqlite"  # the embedded host's state file name (kept in step with `embedded_host.host.state_path`)
UNDELIVERED_FILE = "events-undelivered.jsonl"
_TAIL_BYTES = 4 << 20


def rejected_row(queue: str, message_id: str | None, body: bytes) -> dict[str, Any]:
    """A message the starter moved to the dead-letter queue; its reason travels in the JSON envelope."""
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = {}
    if not isinstance(envelope, dict):
        envelope = {}
    return {
        "queue": queue,
        "message_id": envelope.get("message_id", message_id),
        "reason": envelope.get("DeadLetterReason", "Unknown"),
        "description": envelope.get("DeadLetterErrorDescription", ""),
        "body": envelope.get("body"),
    }


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.hex()


def read_dead_letters(settings: Settings) -> dict[str, Any]:
    """``{"source", "items"}``: newest first, at most ``MAX_ROWS``; from Service Bus also ``errors``, one per
    queue that could not be peeked (the other queue's rows are still shown)."""
    if settings.service_bus_namespace or settings.service_bus_connection:
        peeked = peek_service_bus_dead_letters(service_bus_client(settings), settings)
        return {"source": "service-bus", "items": peeked.items[:MAX_ROWS], "errors": peeked.errors}
    return {"source": "local", "items": _local_dead_letters(settings)[:MAX_ROWS]}


def _local_dead_letters(settings: Settings) -> list[dict[str, Any]]:
    path = Path(settings.pipeline_data_dir) / STATE_FILE
    if not path.exists():
        return []
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        try:
            dead = conn.execute(
                "SELECT queue, message_id, body, dead_letter_reason, dead_letter_description, delivery_count,"
                " dead_lettered_time FROM queue_messages WHERE queue = ? AND state = 'dead'"
                " ORDER BY seq DESC LIMIT ?",
                (settings.pipeline_queue_name, MAX_ROWS),
            ).fetchall()
            rejected = conn.execute(
                "SELECT message_id, body, enqueued_time FROM queue_messages WHERE queue = ? AND state = 'active'"
                " ORDER BY seq DESC LIMIT ?",
                (settings.pipeline_dead_letter_queue_name, MAX_ROWS),
            ).fetchall()
        except sqlite3.OperationalError:  # a state file from before any queue existed
            return []
    finally:
        conn.close()
    rows = [
        {
            "queue": f"{queue}/$deadletterqueue",
            "message_id": mid,
            "reason": reason,
            "description": desc,
            "delivery_count": count,
            "dead_lettered_at": at,
            "body": _text(bytes(body)),
        }
        for queue, mid, body, reason, desc, count, at in dead
    ]
    for mid, body, at in rejected:
        rows.append(
            {**rejected_row(settings.pipeline_dead_letter_queue_name, mid, bytes(body)), "dead_lettered_at": at}
        )
    rows.sort(key=lambda r: r.get("dead_lettered_at") or 0, reverse=True)
    return rows


def service_bus_client(settings: Settings) -> Any:
    """A client for the configured namespace: its connection string, else the identity (`DefaultAzureCredential`)."""
    from azure.servicebus import ServiceBusClient

    if settings.service_bus_connection:
        return ServiceBusClient.from_connection_string(settings.service_bus_connection)
    if not settings.service_bus_namespace:
        raise ValueError(
            "Service Bus is not configured: set ServiceBusConnection or ServiceBusConnection__fullyQualifiedNamespace"
        )
    from azure.identity import DefaultAzureCredential

    return ServiceBusClient(settings.service_bus_namespace, credential=DefaultAzureCredential())


@dataclass(frozen=True)
class PeekedDeadLetters:
    """What both dead-letter places held, and a ``{"queue", "error"}`` for each one that could not be read."""

    items: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


def peek_service_bus_dead_letters(client: Any, settings: Settings, *, limit: int = MAX_ROWS) -> PeekedDeadLetters:
    """The queue's own dead-letter sub-queue (max deliveries exceeded, with Service Bus's reason) and the
    app's dead-letter queue of invalid messages (the reason in each body, read by `rejected_row`); peeked.

    Each queue is read on its own: a queue the identity may not peek (peeking needs Listen, a role
    assignment still applying, a queue that is missing) is reported with the service's reason instead
    of failing the whole feed.
    """
    from azure.core.exceptions import AzureError
    from azure.servicebus import ServiceBusSubQueue

    queue, rejected = settings.pipeline_queue_name, settings.pipeline_dead_letter_queue_name
    peeked = PeekedDeadLetters()
    with client:
        try:
            with client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as receiver:
                for message in receiver.peek_messages(max_message_count=limit):
                    peeked.items.append(
                        {
                            "queue": f"{queue}/$deadletterqueue",
                            "message_id": message.message_id,
                            "reason": message.dead_letter_reason,
                            "description": message.dead_letter_error_description,
                            "delivery_count": message.delivery_count,
                            "body": _text(b"".join(message.body)),
                        }
                    )
        except AzureError as error:
            peeked.errors.append(_peek_error(f"{queue}/$deadletterqueue", error))
        try:
            with client.get_queue_receiver(rejected) as receiver:
                for message in receiver.peek_messages(max_message_count=limit):
                    peeked.items.append(rejected_row(rejected, message.message_id, b"".join(message.body)))
        except AzureError as error:
            peeked.errors.append(_peek_error(rejected, error))
    return peeked


def _peek_error(queue: str, error: Exception) -> dict[str, str]:
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    return {"queue": queue, "error": f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__}


def read_undelivered_events(settings: Settings) -> dict[str, Any]:
    """``{"source", "items"}`` (newest first), or ``"available": false`` with the reason on Azure."""
    from providers.plan import ProviderPlan

    if ProviderPlan.from_settings(settings).events.backend == "event-grid":
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
