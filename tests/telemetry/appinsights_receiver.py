"""A stand-in for the Application Insights ingestion endpoint, and what its tables would hold.

`AppInsightsReceiver` answers `POST /v2.1/track` (gzip JSON, an array or one envelope per line) as
the service does, `{"itemsReceived", "itemsAccepted", "errors"}`, and keeps every envelope; Live
Metrics pings get an empty 200. `row` turns an envelope into the row of the classic table the
ingestion would write (`requests`, `dependencies`, `exceptions`, `customMetrics`), with the
column names the workbook's queries use.
"""

from __future__ import annotations

import json
from typing import Any

from tests.telemetry.ingest_receiver import IngestReceiver

__all__ = ["AppInsightsReceiver", "row"]


class AppInsightsReceiver(IngestReceiver):
    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        super().__init__()

    def receive(self, path: str, body: bytes) -> bytes:
        if not path.startswith("/v2.1/track"):
            return b""  # Live Metrics pings
        items = _envelopes(body)
        with self.lock:
            self.envelopes.extend(items)
        return json.dumps({"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}).encode()

    @property
    def connection_string(self) -> str:
        ikey = "00000000-0000-0000-0000-000000000000"
        endpoint = f"{self.endpoint}/"
        return f"InstrumentationKey={ikey};IngestionEndpoint={endpoint};LiveEndpoint={endpoint}"

    def rows(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [found for envelope in self.envelopes if (found := row(envelope)) is not None]


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
