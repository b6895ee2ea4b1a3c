"""Instance status as the Durable extension's HTTP API returns it, read from the state file.

Used by the engine (the RPC and public status routes) and, with no host running, by
`pipeline status`; hence a module of its own that needs only a connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from embedded_host.durable.history import EventType, HistoryEvent, event_type, event_type_name, load_event

__all__ = ["read_status"]


def read_status(
    conn: sqlite3.Connection,
    instance_id: str,
    *,
    show_history: bool = False,
    show_history_output: bool = False,
    show_input: bool = True,
) -> dict[str, Any] | None:
    """The status JSON the extension returns, or None when the instance does not exist."""
    row = conn.execute(
        "SELECT name, runtime_status, input, output, custom_status, created_time, last_updated_time"
        " FROM instances WHERE instance_id = ?",
        (instance_id,),
    ).fetchone()
    if row is None:
        return None
    name, status, input_text, output, custom, created, updated = row
    result: dict[str, Any] = {
        "name": name,
        "instanceId": instance_id,
        "runtimeStatus": status,
        "input": _loads(input_text) if show_input else None,
        "customStatus": _loads(custom),
        "output": _loads(output),
        "createdTime": created,
        "lastUpdatedTime": updated,
    }
    if show_history:
        rows = conn.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)).fetchall()
        result["historyEvents"] = _public_history([load_event(r[0]) for r in rows], show_history_output)
    return result


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _public_history(events: list[HistoryEvent], with_output: bool) -> list[dict[str, Any]]:
    """History as the status API shows it: named event types, no replay bookkeeping."""
    shown = []
    for typed in events:
        etype = event_type(typed)
        if etype in (EventType.OrchestratorStarted, EventType.OrchestratorCompleted):
            continue
        ev: Mapping[str, Any] = typed  # the wire shape, field by field
        item: dict[str, Any] = {"EventType": event_type_name(etype), "Timestamp": ev.get("Timestamp")}
        for key in (
            "EventId",
            "Name",
            "TaskScheduledId",
            "TimerId",
            "FireAt",
            "Reason",
            "OrchestrationStatus",
            "InstanceId",
        ):
            if ev.get(key) not in (None, -1):
                item[key] = ev[key]
        if etype in (EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated):
            item["FunctionName"] = ev.get("Name")
        if etype == EventType.SubOrchestrationInstanceCreated:
            item["InstanceId"] = ev.get("InstanceId")
        if etype == EventType.ExecutionStarted and ev.get("ParentInstance"):
            # DTFx's ExecutionStarted.ParentInstance: which instance (and task) a sub-orchestration answers to
            item["ParentInstance"] = ev["ParentInstance"]
        if with_output:
            if "Result" in ev:
                item["Result"] = _loads(ev.get("Result"))
            if etype in (EventType.EventRaised, EventType.EventSent):
                item["Input"] = _loads(ev.get("Input"))
            if "Details" in ev:
                item["Details"] = ev.get("Details")
        shown.append(item)
    return shown
