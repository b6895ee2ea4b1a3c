"""A subscriber of the pipeline's CloudEvents: an aiohttp webhook for Event Grid and local delivery.

Run it with `python -m examples.subscriber.app --port 8080` and point either end at
`http://HOST:8080/api/events`: an Event Grid subscription with the CloudEvents 1.0 delivery
schema, or `PIPELINE_EVENT_WEBHOOKS` when the pipeline runs locally.

What a subscriber has to do, and this one does:
- answer the CloudEvents webhook validation handshake (HTTP OPTIONS with `WebHook-Request-Origin`,
  which Event Grid sends before delivering CloudEvents) with `WebHook-Allowed-Origin` and
  `WebHook-Allowed-Rate`;
- accept the structured mode (`application/cloudevents+json`, one event) and the batched mode
  (`application/cloudevents-batch+json`, a JSON array);
- reject what is not a CloudEvent 1.0 of ours with 400 (Event Grid does not retry a 400), checking
  the data against the `contracts` models: a Completed event carries a `Result`, a Failed event
  a `FailedEventData`, a Stale event a `StaleEventData`;
- treat a Stale event as "the answer you kept for this subject may be wrong now": the default
  handler says which sources changed and which newer run (if any) answers again; a Completed
  event whose `metadata.supersedes` names an earlier run replaces that run's answer;
- handle each event once: delivery is at least once, so events are deduplicated on
  `source` + `id` in a SQLite file that survives restarts. If the handler fails, the event is
  forgotten again and the request answers 500, so the sender retries it.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web
from pydantic import BaseModel, ValidationError

from contracts import (
    COMPLETED_EVENT_TYPE,
    FAILED_EVENT_TYPE,
    STALE_EVENT_TYPE,
    FailedEventData,
    Result,
    StaleEventData,
)

__all__ = [
    "BATCH_CONTENT_TYPE",
    "EVENTS_PATH",
    "STRUCTURED_CONTENT_TYPE",
    "DedupeStore",
    "EventHandler",
    "InvalidEvent",
    "PrintHandler",
    "create_app",
    "main",
    "validate_event",
]

EVENTS_PATH = "/api/events"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
MAX_BODY_BYTES = 1024 * 1024  # Event Grid's limit for an event and for a batch

# What each event type's data must be.
DATA_MODELS: dict[str, type[BaseModel]] = {
    COMPLETED_EVENT_TYPE: Result,
    FAILED_EVENT_TYPE: FailedEventData,
    STALE_EVENT_TYPE: StaleEventData,
}

EventHandler = Callable[[dict[str, Any]], Awaitable[None] | None]


class InvalidEvent(ValueError):
    """The body is not a CloudEvent 1.0 of the pipeline; the message says what is wrong."""


def validate_event(event: object, *, where: str = "event") -> dict[str, Any]:
    """Check one structured CloudEvent: required 1.0 attributes, our types, and the data's shape."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"{where}: a CloudEvent is a JSON object")
    if event.get("specversion") != "1.0":
        raise InvalidEvent(f"{where}: specversion must be '1.0', got {event.get('specversion')!r}")
    for attribute in ("id", "source", "type"):
        value = event.get(attribute)
        if not isinstance(value, str) or not value:
            raise InvalidEvent(f"{where}: {attribute} must be a non-empty string")
    content_type = event.get("datacontenttype", "application/json")
    if not isinstance(content_type, str) or content_type.split(";")[0].strip() != "application/json":
        raise InvalidEvent(f"{where}: datacontenttype must be application/json, got {content_type!r}")
    model = DATA_MODELS.get(event["type"])
    if model is None:
        raise InvalidEvent(f"{where}: unknown type {event['type']!r}; expected one of {sorted(DATA_MODELS)}")
    if "data" not in event:
        raise InvalidEvent(f"{where}: {event['type']} events carry data")
    try:
        model.model_validate(event["data"])
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}" for e in error.errors()[:5])
        raise InvalidEvent(f"{where}: data is not a valid {model.__name__}: {problems}") from None
    return event


class DedupeStore:
    """The `source`+`id` of every event handled, in SQLite, so a restart still knows them."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the event loop's thread; the lock keeps it safe if the
        # store is also used from elsewhere (tests, a handler running in a thread).
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS seen ("
            " source TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, received_at REAL NOT NULL,"
            " PRIMARY KEY (source, id))"
        )
        self._lock = threading.Lock()

    def claim(self, event: dict[str, Any]) -> bool:
        """Record the event; False if it was recorded before (a duplicate)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO seen (source, id, type, received_at) VALUES (?, ?, ?, ?)",
                (event["source"], event["id"], event["type"], time.time()),
            )
            return cursor.rowcount == 1

    def release(self, event: dict[str, Any]) -> None:
        """Forget an event whose handling failed, so its redelivery is handled."""
        with self._lock:
            self._db.execute("DELETE FROM seen WHERE source = ? AND id = ?", (event["source"], event["id"]))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM seen").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PrintHandler:
    """The default handler: one line per event on a stream, and the event appended to a JSONL file."""

    def __init__(self, stream: TextIO | None = None, events_file: Path | None = None) -> None:
        self.stream = stream or sys.stdout
        self.events_file = events_file

    def __call__(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if event["type"] == COMPLETED_EVENT_TYPE:
            summary = f"answer: {' '.join(str(data.get('answer', '')).split())[:100]}"
            supersedes = (data.get("metadata") or {}).get("supersedes")
            if supersedes:
                summary = f"replaces pipeline/{supersedes}; {summary}"
        elif event["type"] == STALE_EVENT_TYPE:
            # What a real subscriber does here: flag the answer kept for this subject (ticket, cache
            # entry, chat message) as out of date, and wait for the newer run's Completed event.
            newer = data.get("superseded_by")
            summary = f"stale: {', '.join(data.get('sources') or [])} changed" + (
                f"; answered again as pipeline/{newer}" if newer else ""
            )
        else:
            summary = f"failed at {data.get('step')}: {data.get('error_kind')}: {data.get('message')}"
        print(f"{event.get('time', '-')} {event['type']} {event.get('subject', '')} {summary}", file=self.stream)
        self.stream.flush()
        if self.events_file is not None:
            self.events_file.parent.mkdir(parents=True, exist_ok=True)
            with self.events_file.open("a", encoding="utf-8") as file:
                file.write(json.dumps(event, ensure_ascii=False) + "\n")


_TITLES = {400: "Bad Request", 413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error"}


def _problem(status: int, detail: str) -> web.Response:
    """An RFC 9457 problem response, as the pipeline's own HTTP API answers."""
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
    return web.json_response(body, status=status, content_type="application/problem+json")


def create_app(
    store: DedupeStore,
    handler: EventHandler | None = None,
    *,
    allowed_origins: Iterable[str] = ("*",),
    allowed_rate: str = "*",
) -> web.Application:
    """The subscriber's web app; `allowed_origins` are the senders accepted by the handshake."""
    handle = handler or PrintHandler()
    origins = {origin.lower() for origin in allowed_origins}

    async def validate_webhook(request: web.Request) -> web.Response:
        origin = request.headers.get("WebHook-Request-Origin")
        allow = {"Allow": "POST, OPTIONS"}
        if not origin:
            return web.Response(status=200, headers=allow)
        if "*" not in origins and origin.lower() not in origins:
            # No WebHook-Allowed-* headers: the sender reads that as "no".
            return web.Response(status=403, headers=allow)
        return web.Response(
            status=200,
            headers={**allow, "WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": allowed_rate},
        )

    async def receive(request: web.Request) -> web.Response:
        content_type = request.content_type.lower()
        if content_type not in (STRUCTURED_CONTENT_TYPE, BATCH_CONTENT_TYPE):
            return _problem(415, f"expected {STRUCTURED_CONTENT_TYPE} or {BATCH_CONTENT_TYPE}, got {content_type}")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            too_large = _problem(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
            too_large.force_close()  # the unread body must not be taken for the next request
            return too_large
        try:
            payload = json.loads(await request.read())
        except web.HTTPRequestEntityTooLarge:
            return _problem(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return _problem(400, f"the body is not JSON: {error}")
        try:
            if content_type == BATCH_CONTENT_TYPE:
                if not isinstance(payload, list):
                    raise InvalidEvent("a batch is a JSON array of CloudEvents")
                events = [validate_event(item, where=f"event {i}") for i, item in enumerate(payload)]
            else:
                events = [validate_event(payload)]
        except InvalidEvent as error:
            return _problem(400, str(error))
        accepted = duplicates = 0
        for event in events:
            if not store.claim(event):
                duplicates += 1
                continue
            try:
                result = handle(event)
                if inspect.isawaitable(result):
                    await result
            except Exception as error:  # the sender retries; the event must be handled then
                store.release(event)
                request.app.logger.exception("handler failed for event %s", event["id"])
                return _problem(500, f"handling event {event['id']} failed: {type(error).__name__}")
            accepted += 1
        return web.json_response({"accepted": accepted, "duplicates": duplicates})

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "events_seen": store.count()})

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_route("OPTIONS", EVENTS_PATH, validate_webhook)
    app.router.add_post(EVENTS_PATH, receive)
    app.router.add_get("/healthz", health)
    return app


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.subscriber.app",
        description=f"Receive Durable AI Pipeline CloudEvents at {EVENTS_PATH}.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument(
        "--db", type=Path, default=Path(".pipeline/subscriber.sqlite3"), help="dedupe database (survives restarts)"
    )
    parser.add_argument("--events-file", type=Path, default=None, help="also append each new event to this JSONL file")
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=None,
        help="sender accepted by the webhook handshake, e.g. eventgrid.azure.net (repeatable; default any)",
    )
    parser.add_argument("--allowed-rate", default="*", help="WebHook-Allowed-Rate: requests per minute, or *")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    store = DedupeStore(args.db)
    app = create_app(
        store,
        PrintHandler(events_file=args.events_file),
        allowed_origins=args.allowed_origin or ("*",),
        allowed_rate=args.allowed_rate,
    )
    print(f"listening on http://{args.host}:{args.port}{EVENTS_PATH} (dedupe: {args.db})", file=sys.stderr)
    try:
        web.run_app(app, host=args.host, port=args.port, print=None)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
