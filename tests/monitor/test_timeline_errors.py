"""The monitor's timeline reads a failed attempt's error kind in both backends' shapes (run by node)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.monitor.node import module_url, run_node

DTS_TASK_FAILED = Path(__file__).resolve().parents[1] / "orchestration" / "dts_task_failed.json"


def _error_kind(event: dict) -> dict | None:
    script = (
        f"import {{ errorKind }} from {module_url('timeline.js')};"
        "let text = ''; process.stdin.on('data', (c) => { text += c; });"
        "process.stdin.on('end', () => { console.log(JSON.stringify(errorKind(JSON.parse(text)))); });"
    )
    return run_node(script, json.dumps(event))


def test_a_durable_task_scheduler_failure_shows_its_kind_from_the_failure_details() -> None:
    event = {**json.loads(DTS_TASK_FAILED.read_text()), "EventType": "TaskFailed"}
    assert event["Reason"] is None and event["Details"] is None
    assert (_error_kind(event) or {}).get("kind") == "configuration"


def test_an_azure_storage_failure_still_shows_its_kind_from_the_reason() -> None:
    marker = '[[pipeline-error {"kind":"transient","message":"HTTP 429"}]]'
    event = {"EventType": "TaskFailed", "Reason": f"Activity function 'x' failed: transient: HTTP 429 {marker}"}
    assert (_error_kind(event) or {}).get("kind") == "transient"
