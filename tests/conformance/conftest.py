"""The conformance app under a real `pipeline serve --app tests/conformance/app` process, killable with -9."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import Server

APP = Path(__file__).parent / "app"
API = "/runtime/webhooks/durabletask"


class AppHost(Server):
    """`pipeline serve --app` on its own data dir and marker dir; restartable on the same port."""

    def __init__(self, root: Path) -> None:
        self.markers = root / "markers"
        self.markers.mkdir(parents=True, exist_ok=True)
        super().__init__(
            root / "data", {"CONFORMANCE_MARKERS": str(self.markers)}, app=APP, ready_path=API + "/instances"
        )
        self.http = httpx.Client(base_url=self.base_url, timeout=10)

    def restart_after_kill(self, *running: str) -> None:
        """kill -9 and start again; the instances named must still be mid-run at the kill (else the test is moot)."""
        for instance_id in running:
            status = self.status(instance_id)
            assert status is not None and status["runtimeStatus"] in ("Pending", "Running", "Suspended"), status
        self.kill()
        self.start()

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.kill()
        self.http.close()

    # -- driving the app ------------------------------------------------------------------------------------
    def start_pattern(self, name: str, instance_id: str, data: Any) -> dict[str, Any]:
        """Start through the app's own HTTP starter; returns the management URLs it hands out."""
        resp = self.http.post(f"/api/start/{name}", params={"id": instance_id}, json=data)
        assert resp.status_code == 202, resp.text
        return resp.json()

    def status(self, instance_id: str, history: bool = False) -> dict[str, Any] | None:
        params = {"showHistory": "true", "showHistoryOutput": "true"} if history else {}
        resp = self.http.get(f"{API}/instances/{instance_id}", params=params)
        return None if resp.status_code == 404 else resp.json()

    def wait(
        self, instance_id: str, timeout: float = 20.0, until: tuple[str, ...] = ("Completed", "Failed", "Terminated")
    ) -> dict:
        deadline = time.monotonic() + timeout
        status: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            status = self.status(instance_id, history=True)
            if status is not None and status["runtimeStatus"] in until:
                return status
            time.sleep(0.05)
        raise AssertionError(f"{instance_id} did not reach {until}: {status}\n{self.log()}")

    def runs(self, key: str) -> list[str]:
        """What the activities recorded for ``key``, one line per execution."""
        path = self.markers / key
        return path.read_text().split() if path.exists() else []

    def wait_runs(self, key: str, at_least: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.runs(key)) >= at_least:
                return
            time.sleep(0.01)
        raise AssertionError(f"{key}: {len(self.runs(key))} executions, waited for {at_least}\n{self.log()}")


@pytest.fixture(scope="module")
def app_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppHost]:
    """One host for the module; each pattern kills it with -9 mid-run and starts it again."""
    host = AppHost(tmp_path_factory.mktemp("conformance"))
    host.start()
    yield host
    host.close()


@pytest.fixture
def kill_and_restart(app_host: AppHost) -> Callable[..., None]:
    return app_host.restart_after_kill


class Backend:
    """A loopback HTTP API for ``call_http``: ``/hello`` echoes, ``/job`` answers 202 until polled twice,
    ``/slow`` takes a second. Counts the requests it gets, per path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = self.path.split("?")[0]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                with backend.lock:
                    backend.hits[path] += 1
                    backend.bodies.append(body)
                    polls = backend.hits["/job/status"]
                if path == "/slow":
                    time.sleep(1.0)
                if path == "/job" or (path == "/job/status" and polls < 3):
                    self._send(202, b"", {"Location": "/job/status", "Retry-After": "0"})
                else:
                    reply = {
                        "path": path,
                        "method": self.command,
                        "body": body.decode(),
                        "auth": self.headers.get("Authorization"),
                    }
                    self._send(200, json.dumps(reply).encode(), {"Content-Type": "application/json"})

            def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the host was killed mid-call
                    self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    server = Backend()
    yield server
    server.close()
