"""Fixtures for retrieval tests: a stateful fake Azure AI Search service speaking the REST protocol.

The fake is a real HTTP server on 127.0.0.1 that the real `azure-search-documents` SDK talks to:
it stores the index definition sent with PUT `/indexes('name')`, applies `search.index` actions
(mergeOrUpload, upload, merge, delete) to an in-memory document table, answers `search.post.search`
with documents filtered by the `$filter` forms this app sends (a source, a list of ids, the scope
clause, and a source or id list `and` the scope clause; anything else fails the test) and cut to
`top`, and records every request so tests assert what the SDK sent. A filter naming `scopes` on an
index defined without that field is refused with the service's 400. `fail_once` makes the first
indexing of a key fail with a per-document 503, as the service does under load.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

_INDEX_PATH = re.compile(r"^/indexes\('([^']+)'\)(/docs/(search\.index|search\.post\.search))?$")
_LITERAL = r"'((?:[^']|'')*)'"
_SOURCE = rf"source eq {_LITERAL}"
_IDS = rf"search\.in\(id, {_LITERAL}, ','\)"
_UNSCOPED = "not scopes/any()"
_SCOPED = rf"\(not scopes/any\(\)\) or scopes/any\(s: search\.in\(s, {_LITERAL}, '\|'\)\)"
_COMBINED = re.compile(rf"^(?:(?P<source>{_SOURCE})|(?P<ids>{_IDS})) and \((?P<scopes>.*)\)$")

Match = Callable[[dict[str, Any]], bool]


def _literal(text: str) -> str:
    return text.replace("''", "'")


def _scope_match(clause: str) -> Match:
    """Azure AI Search's reading of the scope clause: an empty or absent collection matches `not any()`."""
    if clause == _UNSCOPED:
        return lambda doc: not doc.get("scopes")
    scoped = re.fullmatch(_SCOPED, clause)
    assert scoped, f"the fake understands only this app's scope clause, got {clause!r}"
    allowed = set(_literal(scoped.group(1)).split("|"))
    return lambda doc: not doc.get("scopes") or bool(allowed & set(doc["scopes"]))


def filter_match(flt: str) -> Match:
    """The documents a `$filter` of this app keeps (source, id list, scope clause, or one of the first two
    `and` the scope clause)."""
    combined = _COMBINED.match(flt)
    if combined:
        first = filter_match(combined.group("source") or combined.group("ids"))
        second = _scope_match(combined.group("scopes"))
        return lambda doc: first(doc) and second(doc)
    if source := re.fullmatch(_SOURCE, flt):
        wanted = _literal(source.group(1))
        return lambda doc: doc.get("source") == wanted
    if ids := re.fullmatch(_IDS, flt):
        keys = set(_literal(ids.group(1)).split(","))
        return lambda doc: doc.get("id") in keys
    return _scope_match(flt)


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
                if kind == "merge" and key not in table:
                    results.append(
                        {"key": key, "status": False, "errorMessage": "Document not found.", "statusCode": 404}
                    )
                    continue
                if kind == "delete":
                    table.pop(key, None)
                else:
                    table[key] = {**table.get(key, {}), **action} if kind in ("merge", "mergeOrUpload") else action
                results.append({"key": key, "status": True, "errorMessage": None, "statusCode": 200})
            status = 200 if all(r["status"] for r in results) else 207
            return status, {"value": results}
        # search.post.search: filtered, then cut to `top` (no ranking: the filter is what is tested)
        docs = list(table.values())
        flt = body.get("filter")
        if flt:
            fields = {f["name"] for f in self.indexes[name].get("fields", [])}
            if "scopes" in flt and "scopes" not in fields:
                message = "Invalid expression: Could not find a property named 'scopes' on type 'search.document'."
                return 400, {"error": {"code": "", "message": message + "\r\nParameter name: $filter"}}
            match = filter_match(flt)
            docs = [d for d in docs if match(d)]
        if body.get("top") is not None:
            docs = docs[: body["top"]]
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
