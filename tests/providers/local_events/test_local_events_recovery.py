"""Crashes: a publisher killed between the outbox insert and the log append (or just after it),
and a worker killed while holding leases. Real processes, ended with os._exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from providers.local.event_delivery import Backoff, DeliveryWorker
from providers.local.event_outbox import EventOutbox

REPO = Path(__file__).resolve().parents[3]
FAST_BACKOFF = Backoff(initial_s=0.02, max_s=0.1)

_CRASHING_PUBLISHER = """
import os, sys
import providers.local.events as events
import providers.local.event_outbox as outbox
from providers.base import OutgoingEvent

data_dir, url, where = sys.argv[1:4]
if where == "before-append":
    events.append_line = lambda *args, **kwargs: os._exit(3)
else:  # after the append, before it is recorded
    outbox.EventOutbox.mark_logged = lambda *args, **kwargs: os._exit(3)
sink = events.LocalEventSink(data_dir, [url], log_grace_s=0.0, start_worker=False)
sink.publish(OutgoingEvent(id="evt-crash", type="t", source="/s", subject="pipeline/x",
                           time="2026-01-01T00:00:00Z", data={"n": 1}))
os._exit(0)  # not reached
"""


def _crash_publisher(data_dir: Path, url: str, where: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CRASHING_PUBLISHER, str(data_dir), url, where], cwd=REPO, timeout=60
    )
    assert result.returncode == 3


def _log_ids(data_dir: Path) -> list[str]:
    path = data_dir / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text("utf-8").splitlines()]


def test_crash_between_insert_and_append_is_repaired(tmp_path, receiver, make_sink, make_event):
    hook = receiver()
    _crash_publisher(tmp_path, hook.url, "before-append")
    assert _log_ids(tmp_path) == []  # the crash happened before the line

    # The orchestrator retries the activity: same id, so no second row; the worker repairs the log.
    sink = make_sink([hook.url])
    sink.publish(make_event("evt-crash"))

    assert sink.flush(5)
    assert _log_ids(tmp_path) == ["evt-crash"]
    assert [json.loads(r.body)["id"] for r in hook.requests] == ["evt-crash"]


def test_crash_after_the_append_does_not_duplicate_the_line(tmp_path, receiver, make_sink, make_event):
    hook = receiver()
    _crash_publisher(tmp_path, hook.url, "after-append")
    assert _log_ids(tmp_path) == ["evt-crash"]  # written but not recorded as written

    sink = make_sink([hook.url])
    sink.publish(make_event("evt-crash"))

    assert sink.flush(5)
    assert _log_ids(tmp_path) == ["evt-crash"]
    assert EventOutbox(tmp_path).counts()["unlogged"] == 0
    assert len(hook.requests) == 1


def test_the_publisher_keeps_its_log_claim_for_the_grace_period(tmp_path, make_event):
    outbox = EventOutbox(tmp_path)
    assert outbox.insert("evt-busy", "{}", [], now=100.0, log_claim_s=10.0)
    assert outbox.claim_unlogged(now=105.0, claim_s=10.0) == []  # the publisher may still append
    assert [e.id for e in outbox.claim_unlogged(now=110.0, claim_s=10.0)] == ["evt-busy"]
    assert outbox.claim_unlogged(now=111.0, claim_s=10.0) == []  # now it is ours


_CRASHING_WORKER = """
import os, sys, time
from providers.local.event_outbox import EventOutbox
claimed = EventOutbox(sys.argv[1]).claim_due("crashed-worker", now=time.time(), lease_s=0.5, limit=10)
assert len(claimed) == 1, claimed
os._exit(3)  # dies holding the lease, before any POST
"""


def test_rows_leased_by_a_crashed_worker_are_delivered_after_the_lease(
    tmp_path, receiver, make_sink, make_event, wait_until
):
    hook = receiver()
    make_sink([hook.url], start_worker=False).publish(make_event("evt-orphan"))
    crashed = subprocess.run([sys.executable, "-c", _CRASHING_WORKER, str(tmp_path)], cwd=REPO, timeout=60)
    assert crashed.returncode == 3

    worker = DeliveryWorker(tmp_path, backoff=FAST_BACKOFF)
    try:
        assert worker.run_once() == 0  # still leased: not touched while the owner might be alive
        assert wait_until(lambda: worker.run_once() == 1, timeout=3)
    finally:
        worker.stop()
    assert [json.loads(r.body)["id"] for r in hook.requests] == ["evt-orphan"]
