"""Fixtures for the local event sink: a real webhook receiver on 127.0.0.1 and fast sinks.

The receiver is a plain `http.server` in a thread, scripted per test (status codes, headers,
a delay), and records every request so tests can assert on what went over the wire.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from providers.base import OutgoingEvent
from providers.local.event_delivery import Backoff
from providers.local.events import LocalEventSink

# Fast enough for a test suite, slow enough that retries are still observable.
FAST_BACKOFF = Backoff(initial_s=0.02, max_s=0.1)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A webhook: answers each POST with the next scripted (status, headers), then with 200."""

    port: int = 0
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    delay_s: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests.append(Recorded(self.path, dict(self.headers), body, time.time()))
                    status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def free_port() -> int:
    """A port nothing listens on (yet): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def make_event(event_id: str = "evt-1", **data: Any) -> OutgoingEvent:
    return OutgoingEvent(
        id=event_id,
        type="DurableAIPipeline.Answer.Completed",
        source="/durable-ai-pipeline",
        subject="pipeline/inst-1",
        time="2026-01-02T03:04:05.678Z",
        data={"instance_id": "inst-1", "answer": "Forty-two. [1]", **data},
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(script: Sequence[tuple[int, dict[str, str]]] = (), *, delay_s: float = 0.0, port: int = 0) -> Receiver:
        rec = Receiver(port=port, script=list(script), delay_s=delay_s).start()
        started.append(rec)
        return rec

    yield start
    for rec in started:
        rec.stop()


@pytest.fixture
def make_sink(tmp_path: Path) -> Iterator[Callable[..., LocalEventSink]]:
    sinks: list[LocalEventSink] = []

    def make(webhooks: Sequence[str] = (), **options: Any) -> LocalEventSink:
        options.setdefault("backoff", FAST_BACKOFF)
        options.setdefault("poll_interval_s", 0.05)
        options.setdefault("request_timeout_s", 2.0)
        sink = LocalEventSink(options.pop("data_dir", tmp_path), webhooks, **options)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.close(timeout_s=1.0)


# Helpers are handed out as fixtures: test modules here are not a package, and importing from
# `conftest` by name would pick whichever conftest another directory loaded first.
@pytest.fixture(name="free_port")
def _free_port() -> Callable[[], int]:
    return free_port


@pytest.fixture(name="wait_until")
def _wait_until() -> Callable[..., bool]:
    return wait_until


@pytest.fixture(name="make_event")
def _make_event() -> Callable[..., OutgoingEvent]:
    return make_event
