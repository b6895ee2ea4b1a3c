"""The monitor against a deployed app: a recent window sorted on the page, and purges safe on every extension.

Azure Storage lists instances in instance-id order (the local host newest first), and a cross-origin page cannot
read the continuation token: the page asks for a recent createdTimeFrom window and sorts what comes back. A purge
by id deletes a running run on extensions before 3.9.1, and a filtered purge without a finished status deletes
running runs on Azure Storage: the page checks before a purge by id, and names the finished statuses.
"""

from __future__ import annotations

import json
from typing import Any

from tests.monitor.node import module_url, run_node

NOW = "2026-12-01T12:00:00.000Z"


def _runs_js(expression: str) -> Any:
    script = (
        f"import * as runs from {module_url('runs.js')};"
        f"const now = Date.parse({NOW!r});"
        f"console.log(JSON.stringify({expression}));"
    )
    return run_node(script)


def test_the_list_asks_for_the_last_24_hours_by_default() -> None:
    query = _runs_js("Object.fromEntries(runs.runsQuery(runs.defaultFilters(), now))")
    assert query["createdTimeFrom"] == "2026-11-30T12:00:00.000Z"
    assert query["top"] == "25" and "runtimeStatus" not in query
    explicit = _runs_js("Object.fromEntries(runs.runsQuery({...runs.defaultFilters(), from: 'X'}, now))")
    assert explicit["createdTimeFrom"] == "X"
    everything = _runs_js("Object.fromEntries(runs.runsQuery({...runs.defaultFilters(), window: 'any'}, now))")
    assert "createdTimeFrom" not in everything


def test_a_page_in_instance_id_order_is_shown_newest_first() -> None:
    page = [  # as Azure Storage pages them: by instance id
        {"instanceId": "a-old", "createdTime": "2026-12-01T09:00:00Z"},
        {"instanceId": "b-new", "createdTime": "2026-12-01T11:00:00Z"},
        {"instanceId": "c-mid", "createdTime": "2026-12-01T10:00:00Z"},
    ]
    ordered = _runs_js(f"runs.newestFirst({json.dumps(page)}).map((r) => r.instanceId)")
    assert ordered == ["b-new", "c-mid", "a-old"]


def test_a_filtered_purge_always_names_the_finished_statuses() -> None:
    query = _runs_js("Object.fromEntries(runs.purgeQuery('2026-11-30T12:00:00.000Z', ''))")
    assert query == {"createdTimeFrom": "2026-11-30T12:00:00.000Z", "runtimeStatus": "Completed,Failed,Terminated"}


def _api(status: str | None, action: str) -> dict[str, Any]:
    """Run an api.js action against a fake app whose run `r1` has ``status``; returns the requests and outcome."""
    answer = (
        "404, null"
        if status is None
        else f"{202 if status in ('Running', 'Pending') else 200}, {{runtimeStatus: {status!r}}}"
    )
    script = f"""
    const store = new Map();
    globalThis.window = {{ sessionStorage: {{ getItem: (k) => store.get(k) ?? null,
      setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) }} }};
    const sent = [];
    globalThis.fetch = async (url, init) => {{
      sent.push([init.method, url]);
      const [code, body] = init.method === "GET" ? [{answer}] : [200, {{ instancesDeleted: 1 }}];
      return new Response(body === null ? "" : JSON.stringify(body), {{ status: code }});
    }};
    const api = await import({module_url("api.js")});
    let outcome;
    try {{ outcome = {{ ok: await {action} }}; }} catch (error) {{ outcome = {{ error: error.message }}; }}
    console.log(JSON.stringify({{ sent, outcome }}));
    """
    return run_node(script)


def test_a_running_run_is_never_purged_by_id() -> None:
    result = _api("Running", "api.purge('r1')")
    assert [method for method, _ in result["sent"]] == ["GET"]  # no DELETE went out
    assert "only finished runs are purged" in result["outcome"]["error"]


def test_a_finished_run_is_purged_by_id_after_the_check() -> None:
    result = _api("Failed", "api.purge('r1')")
    assert [method for method, _ in result["sent"]] == ["GET", "DELETE"]
    assert result["sent"][1][1].endswith("/runtime/webhooks/durabletask/instances/r1")
    assert result["outcome"] == {"ok": {"instancesDeleted": 1}}
    gone = _api(None, "api.purge('r1')")
    assert "HTTP 404" in gone["outcome"]["error"] and len(gone["sent"]) == 1


def test_the_pages_filtered_purge_sends_the_finished_statuses() -> None:
    result = _api("Completed", "api.purgeFinished('2026-11-30T12:00:00.000Z', '2026-12-01T12:00:00.000Z')")
    ((method, url),) = result["sent"]
    assert method == "DELETE" and "runtimeStatus=Completed%2CFailed%2CTerminated" in url
    assert "createdTimeFrom=2026-11-30T12%3A00%3A00.000Z" in url and "createdTimeTo=" in url
