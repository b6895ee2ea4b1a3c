"""kill -9 the host with work in flight: after a restart every question completes exactly once."""

from __future__ import annotations

import collections
import json
import time

import pytest

from contracts import COMPLETED_EVENT_TYPE, event_id_for

pytestmark = pytest.mark.e2e


def test_kill_9_mid_run_loses_nothing_and_duplicates_no_completion(serve, webhook) -> None:
    slow = serve(PIPELINE_EVENT_WEBHOOKS=webhook.url, PIPELINE_FAULTS="retrieval=slow:1:150").start()
    ids = [f"crash-{i}" for i in range(30)]
    for instance_id in ids[:20]:
        assert slow.ask({"question": "How are events deduplicated?", "request_id": instance_id}).status_code == 202
    for instance_id in ids[20:]:  # and some through the queue
        assert slow.cli("enqueue", "What is a task hub?", "--message-id", instance_id).returncode == 0
    time.sleep(0.8)  # some done, some mid-step, some not started
    before = [slow.status(i).get("runtime_status") for i in ids]
    slow.kill()
    assert before.count("Completed") < len(ids), "nothing was in flight at the kill"

    again = serve(PIPELINE_EVENT_WEBHOOKS=webhook.url).start()
    statuses = {i: again.wait_done(i, timeout=60)["runtime_status"] for i in ids}
    assert set(statuses.values()) == {"Completed"}

    lines = [json.loads(line) for line in (again.data_dir / "events.jsonl").read_text().splitlines()]
    completed = collections.Counter(e["subject"] for e in lines if e["type"] == COMPLETED_EVENT_TYPE)
    assert completed == {f"pipeline/{i}": 1 for i in ids}  # one line per question in the log
    delivered = webhook.wait_for(
        lambda evs: {e["id"] for e in evs} >= {event_id_for(i, COMPLETED_EVENT_TYPE) for i in ids}
    )
    # A webhook may see a repeat (at-least-once), but only ever with the same id.
    assert {e["id"] for e in delivered} == {event_id_for(i, COMPLETED_EVENT_TYPE) for i in ids}
