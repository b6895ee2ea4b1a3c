"""Durable entities through a real `pipeline serve --app tests/conformance/app`, with a kill -9 mid-run.

A client signals one counter through the SDK's client (each signal acknowledged is queued durably);
orchestrators signal their own counters more times than one batch takes, with operations that take a few
milliseconds, then call them. The host is killed after the first batches committed, while the rest are queued
and the next batch is running; restarted, every counter must end exact: an operation lost or applied twice
would show in the final values and in the sequence of values each orchestrator's calls saw.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

import httpx

from embedded_host.host import state_path

if TYPE_CHECKING:
    from tests.conformance.conftest import AppHost

WEBHOOKS = "/runtime/webhooks/durabletask"
SIGNALS, CALLS, WORKFLOWS, CLIENT_SIGNALS = 150, 20, 3, 30  # 150 > MAX_BATCH: some stay queued


def _state(server: AppHost, key: str) -> Any:
    response = httpx.get(f"{server.base_url}{WEBHOOKS}/entities/Counter/{key}", timeout=5)
    return response.json() if response.status_code == 200 else None


def _queued(server: AppHost) -> int:
    path = state_path(server.data_dir)
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM entity_requests").fetchone()[0])
        except sqlite3.OperationalError:  # the host has not created the table yet
            return 0


def test_counters_are_exact_across_a_kill_mid_run(app_host: AppHost) -> None:
    server = app_host  # a fresh host for this module (the fixture is module-scoped)
    # The SDK client's signal_entity, through the app's HTTP function; 202 = all queued durably.
    signalled = httpx.post(f"{server.base_url}/api/counters/shared?op=add&value=1&times={CLIENT_SIGNALS}", timeout=30)
    assert signalled.status_code == 202
    ids = [f"workflow-{n}" for n in range(WORKFLOWS)]
    for n, instance_id in enumerate(ids):
        order = {"key": f"w{n}", "signals": SIGNALS, "calls": CALLS, "slow": True}
        started = httpx.post(
            f"{server.base_url}{WEBHOOKS}/orchestrators/counter_workflow/{instance_id}", json=order, timeout=10
        )
        assert started.status_code == 202
    # Watch the state file (WAL lets a reader in): once a batch has committed with operations left queued,
    # the next batch (100 slow operations) is running; kill then.
    deadline = time.monotonic() + 20
    while _queued(server) == 0:
        assert time.monotonic() < deadline, "no entity operations were ever queued"
        time.sleep(0.002)
    server.kill()

    with sqlite3.connect(state_path(server.data_dir)) as db:
        unfinished = db.execute("SELECT COUNT(*) FROM instances WHERE runtime_status = 'Running'").fetchone()[0]
    queued = _queued(server)
    assert queued > 0 and unfinished > 0, f"the kill missed the work ({queued} queued, {unfinished} running)"

    server.start()
    for n, instance_id in enumerate(ids):
        status = server.wait(instance_id, timeout=30)
        assert status["runtimeStatus"] == "Completed", status
        expected = list(range(SIGNALS + 1, SIGNALS + CALLS + 1))
        assert status["output"] == {"seen": expected, "error": f"counter w{n} refuses", "final": SIGNALS + CALLS}
        answers = [e["Name"] for e in status["historyEvents"] if e["EventType"] == "EventRaised"]
        assert len(answers) == len(set(answers)) == CALLS + 2  # each call answered exactly once
        assert _state(server, f"w{n}") == SIGNALS + CALLS
    # Read through the SDK client's read_entity_state.
    read = httpx.get(f"{server.base_url}/api/counters/shared", timeout=10).json()
    assert read == {"exists": True, "state": CLIENT_SIGNALS}
    assert httpx.get(f"{server.base_url}/api/counters/never", timeout=10).json() == {"exists": False, "state": None}
