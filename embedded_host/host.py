"""``EmbeddedHost``: one hosted app folder — HTTP server, durable engine, queue consumer — with a clean lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from embedded_host.durable.client import DurableClient
from embedded_host.durable.engine import DurableEngine
from embedded_host.durable.status import read_status as engine_read_status
from embedded_host.durable.store import connect
from embedded_host.files import private_state
from embedded_host.functions.bindings import Endpoints
from embedded_host.functions.consumer import QueueConsumer
from embedded_host.functions.loader import LoadedApp, load_app
from embedded_host.functions.local_queue import LocalQueue
from embedded_host.web.access import AccessPolicy, is_loopback
from embedded_host.web.http_api import build_rpc_app, build_web_app
from embedded_host.web.keys import KEYS_FILE, HostKeys, load_or_create_keys
from embedded_host.web.redaction import install_log_redaction

__all__ = ["HEADER_READ_TIMEOUT_S", "EmbeddedHost", "HostAlreadyRunningError", "state_path"]

log = logging.getLogger("embedded_host")

# A request's headers must be complete this long after the connection opened or the last response:
# aiohttp closes a connection that waits longer (its keep-alive deadline runs while headers trickle in).
HEADER_READ_TIMEOUT_S = 30.0

_LOADED: dict[Path, LoadedApp] = {}
_LOAD_LOCK = threading.Lock()


class HostAlreadyRunningError(RuntimeError):
    """Another host process owns this data directory."""


def state_path(data_dir: Path) -> Path:
    """The SQLite file holding durable state and the local queues under ``data_dir``."""
    return Path(data_dir) / "durable.sqlite"


def read_status(db_path: Path, instance_id: str, *, show_history: bool = False) -> dict[str, Any] | None:
    """An instance's status JSON from the state file, without a running host (``pipeline status``)."""
    conn = connect(Path(db_path))
    try:
        return engine_read_status(conn, instance_id, show_history=show_history)
    finally:
        conn.close()


def _load_once(app_dir: Path) -> LoadedApp:
    # `app.get_functions()` works once per app object and the app's own modules stay cached in sys.modules,
    # so a process hosts a given folder from one import (tests start several hosts on one folder).
    key = Path(app_dir).resolve()
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = load_app(key)
        return _LOADED[key]


class _DirLock:
    """An exclusive lock on the data directory, so two hosts never run the same state file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+")  # noqa: SIM115 - held for the host's lifetime
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; one host per data dir is the user's job
            return
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._fh.close()
            self._fh = None
            raise HostAlreadyRunningError(f"another host is running on {self.path.parent}") from exc
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()))
        self._fh.flush()

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the flock
            self._fh = None


class EmbeddedHost:
    """Runs a Durable Functions Python v2 app folder offline (see the package docstring for the API)."""

    def __init__(
        self,
        app_dir: Path | str,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        consume_queues: bool = True,
        activity_grace_s: float = 10.0,
        allowed_hosts: Iterable[str] = (),
        pages: Mapping[str, Path] | None = None,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.requested_port = port
        self.consume_queues = consume_queues
        self.activity_grace_s = activity_grace_s
        self.allowed_hosts = tuple(allowed_hosts)
        self.pages = dict(pages or {})  # URL prefix -> folder of static files (a monitor page, say)
        self.port: int | None = None
        self.rpc_port: int | None = None
        # Set at start when the host listens beyond loopback (keys are asked for there only).
        self.keys: HostKeys | None = None
        self.keys_created = False
        self.app: LoadedApp | None = None
        self.engine: DurableEngine | None = None
        self._client: DurableClient | None = None
        self._runner: web.AppRunner | None = None
        self._rpc_runner: web.AppRunner | None = None
        self._consumer: QueueConsumer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = _DirLock(self.data_dir / "host.lock")
        self._queues: dict[str, LocalQueue] = {}
        self._started = False

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return state_path(self.data_dir)

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the host is not started")
        return f"http://{_url_host(self.host)}:{self.port}"

    @property
    def rpc_base_url(self) -> str:
        """The loopback listener the app's Durable client calls (``rpcBaseUrl`` without its path)."""
        if self.rpc_port is None:
            raise RuntimeError("the host is not started")
        return f"http://127.0.0.1:{self.rpc_port}"

    @property
    def keys_path(self) -> Path:
        return self.data_dir / KEYS_FILE

    @property
    def hub_name(self) -> str:
        return self._require_app().config.hub_name

    def endpoints(self) -> Endpoints:
        """The URLs this host hands out, with the system key they need when it asks for keys."""
        key = self.keys.durable_system if self.keys is not None else None
        return Endpoints(public=self.base_url, rpc=self.rpc_base_url, hub=self.hub_name, system_key=key)

    def client_binding(self) -> str:
        """The durable-client binding JSON a client function of this app receives."""
        return self.endpoints().client_binding_json()

    def queue(self, name: str | None = None) -> LocalQueue:
        """A local queue on this host's state file (default: the app's first Service Bus trigger queue)."""
        loaded = self._require_app()
        if name is None:
            triggers = loaded.of_kind("serviceBus")
            name = (triggers[0].queue_name if triggers else None) or "questions"
        if name not in self._queues:
            self._queues[name] = LocalQueue(
                self.db_path,
                name,
                max_delivery_count=loaded.config.max_delivery_count,
                lock_duration_s=loaded.config.lock_duration_s,
            )
        return self._queues[name]

    def send(self, body: bytes | str, *, queue: str | None = None, **kwargs: Any) -> str:
        """Send to a local queue and let the consumer see it at once."""
        message_id = self.queue(queue).send(body, **kwargs)
        if self._consumer is not None:
            self._consumer.poke()
        return message_id

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the app, open the state file, recover, and listen."""
        if self._started:
            return
        install_log_redaction()
        private_state(self.data_dir)
        self._lock.acquire()
        try:
            self.app = _load_once(self.app_dir)
            if not is_loopback(self.host):
                self.keys, self.keys_created = load_or_create_keys(self.data_dir)
            self.engine = DurableEngine(self.app, self.db_path, activity_grace_s=self.activity_grace_s)
            self._client = DurableClient(self.engine)
            self._executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="function")
            public = AccessPolicy.create(self.host, self.allowed_hosts, self.keys)
            web_app = build_web_app(self.app, self._client, self.endpoints, self._executor, public, self.pages)
            # access_log=None: aiohttp's access log would write every URL, `code=` keys included.
            self._runner = web.AppRunner(
                web_app, access_log=None, handle_signals=False, keepalive_timeout=HEADER_READ_TIMEOUT_S
            )
            await self._runner.setup()
            self.port = await _listen(self._runner, self.host, self.requested_port)
            rpc = AccessPolicy.create("127.0.0.1", (), None)
            self._rpc_runner = web.AppRunner(
                build_rpc_app(self._client, self.endpoints, rpc),
                access_log=None,
                handle_signals=False,
                keepalive_timeout=HEADER_READ_TIMEOUT_S,
            )
            await self._rpc_runner.setup()
            self.rpc_port = await _listen(self._rpc_runner, "127.0.0.1", 0)
            await self.engine.start()
            if self.consume_queues:
                # This process owns the data dir (the lock above): locks left in its queues are a killed host's.
                for spec in self.app.of_kind("serviceBus"):
                    released = self.queue(spec.queue_name or "").release_locks()
                    if released:
                        log.info("released %d message lock(s) a stopped host left on '%s'", released, spec.queue_name)
                self._consumer = QueueConsumer(
                    self.app, self.queue, self.client_binding, self._executor, self.engine.outage
                )
                self._consumer.start()
        except BaseException:
            await self._teardown()
            raise
        self._started = True
        log.info("embedded host for %s listening on %s", self.app_dir, self.base_url)

    async def stop(self) -> None:
        """Stop taking work, let in-flight work finish or release it, and close everything."""
        if not self._started:
            return
        self._started = False
        await self._teardown()

    async def _teardown(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop(self.activity_grace_s)
            self._consumer = None
        for runner in (self._runner, self._rpc_runner):
            if runner is not None:
                await runner.cleanup()
        self._runner = self._rpc_runner = None
        self._client = None
        if self.engine is not None:
            await self.engine.stop()
            self.engine = None
        for queue in self._queues.values():
            queue.close()
        self._queues.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        await _close_sdk_session()
        self._lock.release()

    async def __aenter__(self) -> EmbeddedHost:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- durable client conveniences -------------------------------------------------------------------------
    @property
    def client(self) -> DurableClient:
        """The Durable client the HTTP API uses too (start, status, events, purge, restart, rewind)."""
        if self._client is None:
            raise RuntimeError("the host is not started")
        return self._client

    async def start_new(self, orchestrator: str, client_input: Any = None, instance_id: str | None = None) -> str:
        """Start an orchestration directly (no HTTP round trip)."""
        text = json.dumps(client_input) if client_input is not None else None
        return self.client.start_instance(orchestrator, instance_id, text)

    def get_status(self, instance_id: str, *, show_history: bool = False) -> dict[str, Any] | None:
        """The extension's status JSON for an instance, or None if unknown."""
        return self.client.get_status(instance_id, show_history=show_history, show_history_output=show_history)

    async def wait_for_completion(self, instance_id: str, timeout: float = 30.0) -> dict[str, Any] | None:
        """Wait for a terminal status (Completed, Failed, Terminated) and return the status JSON."""
        return await self.client.wait_for_completion(instance_id, timeout)

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> int:
        return self.client.raise_event(instance_id, event_name, json.dumps(data))

    def terminate(self, instance_id: str, reason: str = "") -> int:
        return self.client.terminate(instance_id, reason)

    def _require_app(self) -> LoadedApp:
        if self.app is None:
            self.app = _load_once(self.app_dir)
        return self.app

    # -- blocking entry point --------------------------------------------------------------------------------
    def run_forever(self, *, on_started: Any = None) -> None:
        """Serve until SIGINT/SIGTERM, then stop cleanly (in-flight work finishes or stays for the next start)."""

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                except (NotImplementedError, RuntimeError):  # Windows / not the main thread
                    signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
            await self.start()
            try:
                if on_started is not None:
                    on_started(self)
                await stop.wait()
            finally:
                await self.stop()

        asyncio.run(main())


def _url_host(host: str) -> str:
    """How a client on this machine names a listener bound to ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


async def _listen(runner: web.AppRunner, host: str, port: int) -> int:
    """Start a TCP site and return the port it got (``port=0`` picks a free one)."""
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server  # aiohttp exposes the bound sockets only here
    sockets = getattr(server, "sockets", None) or []
    return sockets[0].getsockname()[1] if sockets else port


async def _close_sdk_session() -> None:
    """Close the SDK's shared aiohttp session, which is bound to this event loop.

    The SDK offers only the private ``_close_session``; tests/embedded_host/test_sdk_internals.py fails if it moves.
    """
    module = sys.modules.get("azure.durable_functions.models.utils.http_utils")
    closer = getattr(module, "_close_session", None) if module else None
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()
