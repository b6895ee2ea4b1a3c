"""Fake Azure services on 127.0.0.1 for testing the Azure providers at the wire.

Each fake is a real HTTP server (port 0, own thread) that records what the real SDK sent and
answers with scripted, real-shaped REST responses. So the tests check the SDK's actual requests
(auth headers, api-version, paths, JSON bodies) and the providers' handling of real responses
and failures, with no Azure account and no mocks of the SDKs.

Response shapes follow the public REST references: OpenAI embeddings and chat completions,
Azure AI Search `docs/search.post.search`, Event Grid `api/events` (CloudEvents batch).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

# --------------------------------------------------------------------------------------------
# The recording server


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.raw_path).path)

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.raw_path).query).items()}

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})


class FakeServer:
    """An HTTP(S) server that records requests and answers from a script (FIFO), else `default`."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[Reply | Callable[[Recorded], Reply]] = deque()
        self.default: Callable[[Recorded], Reply] = lambda _: Reply.json({"error": "nothing scripted"}, 599)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                reply = server._next(recorded)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        scheme = "http"
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            step = self._script.popleft() if self._script else self.default
        return step(recorded) if callable(step) else step

    def reply(self, *replies: Reply | Callable[[Recorded], Reply]) -> FakeServer:
        """Answer the next requests with these, in order."""
        with self._lock:
            self._script.extend(replies)
        return self

    @property
    def last(self) -> Recorded:
        assert self.requests, "the server received no request"
        return self.requests[-1]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


# --------------------------------------------------------------------------------------------
# Real-shaped REST responses


class Shapes:
    """Response bodies as the real services return them, and replies that carry them."""

    Reply = Reply

    @staticmethod
    def reply(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        return Reply.json(payload, status, headers)

    @staticmethod
    def slow(seconds: float, then: Reply | None = None) -> Callable[[Recorded], Reply]:
        """A reply that arrives after `seconds` (to trip client timeouts)."""

        def answer(_: Recorded) -> Reply:
            time.sleep(seconds)
            return then or Reply.json({})

        return answer

    @staticmethod
    def embeddings(vectors: Sequence[Sequence[float]], *, model: str = "text-embedding-3-small", tokens: int = 5):
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": list(v)} for i, v in enumerate(vectors)],
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @staticmethod
    def chat(
        content: str,
        *,
        model: str = "gpt-4o-2024-08-06",
        prompt_tokens: int = 120,
        completion_tokens: int = 30,
        finish_reason: str = "stop",
    ):
        return {
            "id": "chatcmpl-AbC123",
            "object": "chat.completion",
            "created": 1_727_000_000,
            "model": model,
            "system_fingerprint": "fp_abc",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    @staticmethod
    def openai_error(message: str, *, type_: str = "invalid_request_error", code: str | None = None):
        return {"error": {"message": message, "type": type_, "param": None, "code": code}}

    @staticmethod
    def search(docs: Sequence[Mapping[str, Any]]):
        return {
            "@odata.context": "https://example.search.windows.net/indexes('docs')/$metadata#docs(*)",
            "value": [dict(d) for d in docs],
        }

    @staticmethod
    def azure_error(code: str, message: str):
        return {"error": {"code": code, "message": message}}


@pytest.fixture
def shapes() -> type[Shapes]:
    return Shapes


# --------------------------------------------------------------------------------------------
# Servers, TLS and credentials


@pytest.fixture(autouse=True)
def _no_ambient_azure(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nothing from the developer's environment leaks in: no proxies, keys or a shared credential."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_AD_TOKEN",
        "OPENAI_API_KEY",
        "OPENAI_API_VERSION",
        "OPENAI_BASE_URL",
        "AZURE_OPENAI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
    from providers.azure.credentials import close_default_credential

    close_default_credential()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def _certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (bearer tokens are only sent over TLS by azure-core)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(_certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """An HTTPS fake whose certificate the azure-core (requests) transport trusts."""
    cert_path, key_path = _certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_path))
    fake = FakeServer(context)
    yield fake
    fake.close()


class FakeTokenCredential:
    """A `TokenCredential` that hands out a fixed token and records the scopes asked for."""

    def __init__(self, token: str = "fake-entra-token") -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any):
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture
def token_credential() -> FakeTokenCredential:
    return FakeTokenCredential()


@pytest.fixture
def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
