"""Fake servers for the security tests: an OpenAI-compatible chat endpoint and an OTLP/HTTP collector.

Both record what they receive, so a test can check the prompt a model was sent and grep exported telemetry.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeChat", "FakeCollector"]


class _Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> str:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class FakeChat(_Recorder):
    """`POST /v1/chat/completions`: answers citing document 1, or, when the question holds `reject_marker`,
    a 401 whose message echoes the caller's key (as some OpenAI-compatible servers do)."""

    def __init__(
        self, *, answer: str = "The zebra protocol rotates keys hourly [1].", reject_marker: str = "please-reject"
    ) -> None:
        super().__init__()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with fake.lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                user = " ".join(m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user")
                if reject_marker in user:
                    key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    self._send(
                        401,
                        {
                            "error": {
                                "message": f"Incorrect API key provided: {key}.",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                    return
                self._send(
                    200,
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "m"),
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": answer}}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.url = self._serve(Handler) + "/v1"

    def chat_bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]


class FakeCollector(_Recorder):
    """OTLP/HTTP: keeps the raw protobuf bodies (strings in them are plain UTF-8, so a grep finds secrets)."""

    def __init__(self) -> None:
        super().__init__()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with collector.lock:
                    collector.requests.append({"path": self.path, "raw": raw})
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.url = self._serve(Handler)

    def raw(self) -> bytes:
        with self.lock:
            return b"".join(r["raw"] for r in self.requests)
