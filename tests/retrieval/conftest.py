"""Fixtures for retrieval tests: a stateful fake Azure AI Search service speaking the REST protocol.

The fake is a real HTTP server on 127.0.0.1 that the real `azure-search-documents` SDK talks to:
it stores the index definition sent with PUT `/indexes('name')`, applies `search.index` actions
(mergeOrUpload, upload, delete) to an in-memory document table, answers `search.post.search`
with documents filtered by `source eq '...'`, and records every request so tests assert what the
SDK sent. `fail_once` makes the first indexing of a key fail with a per-document 503, as the
service does under load.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

_INDEX_PATH = re.compile(r"^/indexes\('([^']+)'\)(/docs/(search\.index|search\.post\.search))?$")
_SOURCE_FILTER = re.compile(r"^source eq '((?:[^']|'')*)'$")


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeSearchService:
    url: str = ""
    requests: list[SeenRequest] = field(default_factory=list)
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    fail_once: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def batches(self) -> list[list[dict[str, Any]]]:
        """The `value` of every search.index request, in order."""
        return [r.body["value"] for r in self.requests if r.path.endswith("/docs/search.index")]

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        match = _INDEX_PATH.match(path)
        if not match:
            return 404, {"error": {"code": "NotFound", "message": f"no route {path}"}}
        name, operation = match.group(1), match.group(3)
        if operation is None:
            if method == "PUT":
                created = name not in self.indexes
                self.indexes[name] = {**body, "@odata.etag": '"0x1"'}
                self.documents.setdefault(name, {})
                return (201 if created else 200), self.indexes[name]
            if method == "DELETE":
                if name not in self.indexes:
                    return 404, {"error": {"code": "ResourceNotFound", "message": "no such index"}}
                del self.indexes[name]
                self.documents.pop(name, None)
                return 204, None
            if method == "GET" and name in self.indexes:
                return 200, self.indexes[name]
            return 404, {"error": {"code": "ResourceNotFound", "message": "no such index"}}
        if name not in self.indexes:
            return 404, {"error": {"code": "ResourceNotFound", "message": "no such index"}}
        table = self.documents[name]
        if operation == "search.index":
            results = []
            for action in body["value"]:
                kind = action.pop("@search.action")
                key = action["id"]
                if key in self.fail_once:
                    self.fail_once.discard(key)
                    results.append({"key": key, "status": False, "errorMessage": "Service busy", "statusCode": 503})
                    continue
                if kind == "delete":
                    table.pop(key, None)
                else:
                    table[key] = {**table.get(key, {}), **action} if kind == "mergeOrUpload" else action
                results.append({"key": key, "status": True, "errorMessage": None, "statusCode": 200})
            status = 200 if all(r["status"] for r in results) else 207
            return status, {"value": results}
        # search.post.search: only what the indexer asks ("*" with a source filter, a field selection)
        docs = list(table.values())
        flt = body.get("filter")
        if flt:
            source = _SOURCE_FILTER.match(flt)
            assert source, f"the fake understands only source filters, got {flt!r}"
            wanted = source.group(1).replace("''", "'")
            docs = [d for d in docs if d.get("source") == wanted]
        select = body.get("select")
        if select:
            names = select.split(",")
            docs = [{k: d.get(k) for k in names} for d in docs]
        return 200, {"value": [{"@search.score": 1.0, **d} for d in docs]}


@pytest.fixture
def search_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSearchService]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    service = FakeSearchService()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            split = urlsplit(self.path)
            path = unquote(split.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            with service.lock:
                service.requests.append(SeenRequest(self.command, path, query, headers, json.loads(raw or "null")))
                status, payload = service.handle(self.command, path, body)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json; odata.metadata=minimal")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    service.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield service
    httpd.shutdown()
    httpd.server_close()
