"""Real processes and sockets for tests: `pipeline serve` as a subprocess, a webhook receiver, a free port.

Shared by the end-to-end, chaos and security suites (and `bench/chaos.py`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook:
    """Collects CloudEvents POSTed to it (structured mode)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook.lock:
                    hook.events.append(json.loads(body))
                    hook.headers.append(dict(self.headers))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self.events):
                    return list(self.events)
            time.sleep(0.05)
        raise AssertionError(f"webhook did not see the expected events; got {len(self.events)}")

    def close(self) -> None:
        self.server.shutdown()


class Server:
    """`pipeline serve` in a subprocess on its own data dir; restartable (on the same port), killable.

    `app` serves another app folder (`--app`); it is up when `ready_path` answers 200 (the pipeline app's
    OpenAPI document by default; the Durable API for any app).
    """

    def __init__(
        self, data_dir: Path, env: dict[str, str], *, app: Path | None = None, ready_path: str = "/api/openapi.json"
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {**os.environ, "PIPELINE_DATA_DIR": str(data_dir), **env}
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app_args = ["--app", str(app)] if app is not None else []
        self.ready_path = ready_path

    def start(self, timeout: float = 30.0) -> Server:
        log = open(self.data_dir.parent / f"serve-{self.port}.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", *self.app_args, "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(self.base_url + self.ready_path, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("serve did not come up: " + self.log())

    def log(self) -> str:
        path = self.data_dir.parent / f"serve-{self.port}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)

    def ask(self, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.base_url + "/api/pipeline/start", json=body, timeout=10)

    def status(self, instance_id: str) -> dict[str, Any]:
        return httpx.get(f"{self.base_url}/api/pipeline/{instance_id}", timeout=10).json()

    # Generous: the first run of a fresh data folder builds the sample index, which a busy 2-core machine
    # (CI runs tests beside each other's processes) can stretch well past its usual 8 s.
    def wait_done(self, instance_id: str, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = httpx.get(f"{self.base_url}/api/pipeline/{instance_id}", timeout=10)
            if response.status_code == 200 and response.json()["runtime_status"] in (
                "Completed",
                "Failed",
                "Terminated",
            ):
                return response.json()
            time.sleep(0.05)
        raise AssertionError(f"{instance_id} did not finish: {self.status(instance_id)}")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
