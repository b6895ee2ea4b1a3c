"""A stand-in for the Application Insights ingestion endpoint, and what its tables would hold.

`AppInsightsReceiver` answers `POST /v2.1/track` (gzip JSON, an array or one envelope per line) as
the service does, `{"itemsReceived", "itemsAccepted", "errors"}`, and keeps every envelope; Live
Metrics pings get an empty 200. `row` turns an envelope into the row of the classic table the
ingestion would write (`requests`, `dependencies`, `exceptions`, `customMetrics`), with the
column names the workbook's queries use.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["AppInsightsReceiver", "row"]


class AppInsightsReceiver:
    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                answer = b""
                if self.path.startswith("/v2.1/track"):
                    items = _envelopes(body)
                    with receiver.lock:
                        receiver.envelopes.extend(items)
                    answer = json.dumps({"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []})
                    answer = answer.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def connection_string(self) -> str:
        ikey = "00000000-0000-0000-0000-000000000000"
        return f"InstrumentationKey={ikey};IngestionEndpoint={self.endpoint};LiveEndpoint={self.endpoint}"

    def rows(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [found for envelope in self.envelopes if (found := row(envelope)) is not None]

    def close(self) -> None:
        self.server.shutdown()


def _envelopes(body: bytes) -> list[dict[str, Any]]:
    text = body.decode()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return parsed if isinstance(parsed, list) else [parsed]


_TABLES = {
    "RequestData": "requests",
    "RemoteDependencyData": "dependencies",
    "ExceptionData": "exceptions",
    "MetricData": "customMetrics",
}


def row(envelope: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(table, columns) as the ingestion maps this envelope; None for types the queries do not read."""
    data = envelope.get("data", {})
    table = _TABLES.get(data.get("baseType", ""))
    if table is None:
        return None
    base = data.get("baseData", {})
    tags = envelope.get("tags", {})
    columns: dict[str, Any] = {
        "timestamp": envelope.get("time"),
        "itemType": table.rstrip("s") if table != "customMetrics" else "customMetric",
        "operation_Id": tags.get("ai.operation.id"),
        "operation_ParentId": tags.get("ai.operation.parentId"),
        "operation_Name": tags.get("ai.operation.name"),
        "cloud_RoleName": tags.get("ai.cloud.role"),
        "customDimensions": base.get("properties") or {},
    }
    if table in ("requests", "dependencies"):
        columns |= {k: base.get(k) for k in ("id", "name", "duration", "success", "url", "target", "type", "data")}
        columns["resultCode"] = base.get("responseCode", base.get("resultCode"))
    elif table == "exceptions":
        first = (base.get("exceptions") or [{}])[0]
        columns |= {"type": first.get("typeName"), "outerType": first.get("typeName")}
        columns |= {"message": first.get("message"), "outerMessage": first.get("message")}
    else:
        metric = (base.get("metrics") or [{}])[0]
        columns |= {"name": metric.get("name"), "value": metric.get("value"), "valueSum": metric.get("value")}
        columns |= {"valueCount": metric.get("count"), "valueMin": metric.get("min"), "valueMax": metric.get("max")}
    return table, columns
