"""Run the example subscriber on a real loopback port, in a thread, restartable on the same database."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from contracts import COMPLETED_EVENT_TYPE, FAILED_EVENT_TYPE, event_id_for
from examples.subscriber.app import EVENTS_PATH, DedupeStore, create_app
from providers.base import OutgoingEvent


class Recorder:
    """A handler that keeps what it was given (called on the server's thread)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.fail_next = False

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("handler down")
            self.events.append(event)

    def ids(self) -> list[str]:
        with self._lock:
            return [e["id"] for e in self.events]


class SubscriberServer:
    """The subscriber app served on 127.0.0.1; `restart()` keeps the port and the dedupe file."""

    def __init__(self, db: Path, handler: Recorder) -> None:
        self.db = db
        self.handler = handler
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._store: DedupeStore | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{EVENTS_PATH}"

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._store = DedupeStore(self.db)

        async def serve() -> None:
            # A short shutdown: a client still sending a rejected body must not hold up a restart.
            self._runner = web.AppRunner(create_app(self._store, self.handler), shutdown_timeout=1.0)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
            ready.set()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="subscriber", daemon=True)
        self._thread.start()
        assert ready.wait(10), "the subscriber did not start"

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop.close()
        self._loop = self._runner = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def subscriber(tmp_path: Path, recorder: Recorder) -> Iterator[SubscriberServer]:
    server = SubscriberServer(tmp_path / "subscriber" / "seen.sqlite3", recorder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def result_data(instance_id: str = "run-1") -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "question": "What is the dead-letter queue?",
        "answer": "Messages that are not valid Questions go to questions-deadletter [1].",
        "citations": [
            {
                "id": "service-bus#2",
                "title": "Service Bus",
                "source": "corpus/service-bus.md",
                "score": 0.82,
                "quote": "A message that is not a valid Question is dead-lettered.",
            }
        ],
        "models": {"embeddings": "local:hash", "generation": "local:extractive"},
        "timings_ms": {"embed_query": 1.5, "search_documents": 3.0},
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def failed_data(instance_id: str = "run-2") -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "question": "Why?",
        "step": "generate_answer",
        "error_kind": "rejected",
        "message": "the model refused the request",
        "attempts": 1,
    }


def outgoing(instance_id: str = "run-1", *, failed: bool = False) -> OutgoingEvent:
    """An event as the pipeline publishes it."""
    event_type = FAILED_EVENT_TYPE if failed else COMPLETED_EVENT_TYPE
    return OutgoingEvent(
        id=event_id_for(instance_id, event_type),
        type=event_type,
        source="/durable-ai-pipeline",
        subject=f"pipeline/{instance_id}",
        time="2026-01-02T03:04:05.000Z",
        data=failed_data(instance_id) if failed else result_data(instance_id),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
