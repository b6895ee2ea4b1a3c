"""kill -9 a host process mid-run, restart it: everything completes, nothing completes twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import BASIC_APP

ROOT = Path(__file__).resolve().parents[2]


def _spawn(data: Path, markers: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "TEST_MARKER_DIR": str(markers), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "run_host.py"), str(BASIC_APP), str(data)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _post(url: str, body: object) -> int:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req) as resp:
        return resp.status


def _status(base: str, iid: str) -> dict:
    url = f"{base}/runtime/webhooks/durabletask/instances/{iid}?showHistory=true&showHistoryOutput=true"
    with urllib.request.urlopen(url) as resp:
        return json.loads(resp.read())


@pytest.mark.e2e
def test_kill_9_and_restart_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    data, markers = tmp_path / "data", tmp_path / "markers"
    markers.mkdir()
    ids = [f"crash-{i}" for i in range(6)]
    steps = 6
    proc, base = _spawn(data, markers)
    try:
        for iid in ids:
            assert _post(f"{base}/api/start/slow?id={iid}", {"key": iid, "steps": steps, "sleep": 0.04}) == 202
        time.sleep(0.3)  # some steps done, some in flight
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc, base = _spawn(data, markers)
    try:
        deadline = time.monotonic() + 30
        statuses = {}
        while time.monotonic() < deadline:
            statuses = {iid: _status(base, iid) for iid in ids}
            if all(s["runtimeStatus"] == "Completed" for s in statuses.values()):
                break
            time.sleep(0.1)
        for iid, status in statuses.items():
            assert status["runtimeStatus"] == "Completed", status
            assert status["output"] == [f"step {i}" for i in range(steps)]
            kinds = [e["EventType"] for e in status["historyEvents"]]
            assert kinds.count("ExecutionCompleted") == 1 and kinds.count("TaskCompleted") == steps
            scheduled = [e["EventId"] for e in status["historyEvents"] if e["EventType"] == "TaskScheduled"]
            assert scheduled == list(range(steps))
            runs = (markers / f"record-{iid}").read_text().split()
            # At-least-once: every step ran, a step in flight at the kill may have run twice, no more.
            assert sorted(set(runs)) == sorted(str(i) for i in range(steps))
            assert all(runs.count(str(i)) <= 2 for i in range(steps))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


@pytest.mark.e2e
def test_sigterm_stops_cleanly_and_work_resumes(tmp_path: Path) -> None:
    data, markers = tmp_path / "data", tmp_path / "markers"
    markers.mkdir()
    proc, base = _spawn(data, markers)
    try:
        assert _post(f"{base}/api/start/slow?id=gentle", {"key": "gentle", "steps": 4, "sleep": 0.05}) == 202
        time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    proc, base = _spawn(data, markers)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _status(base, "gentle")["runtimeStatus"] != "Completed":
            time.sleep(0.05)
        assert _status(base, "gentle")["runtimeStatus"] == "Completed"
        assert sorted((markers / "record-gentle").read_text().split()) == ["0", "1", "2", "3"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def _wait_status(base: str, iid: str, wanted: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    status = _status(base, iid)
    while status["runtimeStatus"] != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        status = _status(base, iid)
    assert status["runtimeStatus"] == wanted, status
    return status


def _post_raw(url: str) -> int:
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req) as resp:
        return resp.status


@pytest.mark.e2e
def test_kill_9_while_suspended_keeps_the_held_timer_and_event(tmp_path: Path) -> None:
    data, markers = tmp_path / "data", tmp_path / "markers"
    markers.mkdir()
    root = "/runtime/webhooks/durabletask/instances/held"
    proc, base = _spawn(data, markers)
    try:
        assert _post(f"{base}/api/start/timer_then_event?id=held", {"ms": 300}) == 202
        _wait_status(base, "held", "Running")
        assert _post_raw(f"{base}{root}/suspend?reason=crash") == 202
        _wait_status(base, "held", "Suspended")
        assert _post(f"{base}{root}/raiseEvent/go", {"kept": True}) == 202
        time.sleep(0.6)  # the timer fires into the inbox, held there
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc, base = _spawn(data, markers)
    try:
        time.sleep(0.3)
        status = _wait_status(base, "held", "Suspended")  # still suspended after the restart, nothing delivered
        kinds = [e["EventType"] for e in status["historyEvents"]]
        assert "TimerFired" not in kinds and "EventRaised" not in kinds
        assert _post_raw(f"{base}{root}/resume?reason=back") == 202
        status = _wait_status(base, "held", "Completed")
        assert status["output"] == {"event": {"kept": True}, "step": 2}
        kinds = [e["EventType"] for e in status["historyEvents"]]
        for kind in ("ExecutionSuspended", "ExecutionResumed", "TimerFired", "EventRaised", "ExecutionCompleted"):
            assert kinds.count(kind) == 1, kinds
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
