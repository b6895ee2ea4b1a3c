"""A local HTTP endpoint for telemetry exporters: the skeleton the OTLP and Application Insights stand-ins share.

It listens on 127.0.0.1 (an ephemeral port), reads each POST body (gunzipped when the exporter
compressed it) and hands it to `receive`, whose answer is sent back with status 200.
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["IngestReceiver"]


class IngestReceiver:
    content_type = "application/json"

    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards what subclasses keep
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                answer = receiver.receive(self.path, body)
                self.send_response(200)
                self.send_header("Content-Type", receiver.content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def receive(self, path: str, body: bytes) -> bytes:
        """Keep what the body holds; return the response body."""
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
