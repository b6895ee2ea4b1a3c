"""kill -9 the host with work in flight: after a restart every question completes exactly once.

Event lines cannot show a duplicate (event ids are fixed per instance and the outbox drops a repeated one),
so the app counts its activity executions in side files (`tests/counting_app`): across every instance, only
the activities in flight at the kill may run a second time. After the restart the producer sends every
question again, as a client that lost its connection would: a finished question must not run again.
"""

from __future__ import annotations

import collections
import json
import time

import pytest

from contracts import COMPLETED_EVENT_TYPE, event_id_for
from tests.executions import COUNTING_APP, missing_steps, read_executions, repeats

pytestmark = pytest.mark.e2e

# host.json's maxConcurrentActivityFunctions: at most this many activities are cut short by one kill.
MAX_IN_FLIGHT = 8


def test_kill_9_mid_run_loses_nothing_and_duplicates_no_completion(serve, webhook, tmp_path) -> None:
    markers = tmp_path / "executions"
    counted = {"PIPELINE_TEST_EXECUTIONS": str(markers), "PIPELINE_EVENT_WEBHOOKS": webhook.url}
    slow = serve(COUNTING_APP, PIPELINE_FAULTS="retrieval=slow:1:1500", **counted).start()
    ids = [f"crash-{i}" for i in range(30)]
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "".join(json.dumps({"question": "What is a task hub?", "request_id": i}) + "\n" for i in ids[20:])
    )
    assert slow.cli("enqueue", "--file", str(questions)).returncode == 0  # some through the queue
    for instance_id in ids[:20]:
        assert slow.ask({"question": "How are events deduplicated?", "request_id": instance_id}).status_code == 202
    time.sleep(0.3)  # some done, some mid-step, some not started
    before = [slow.status(i).get("runtime_status") for i in ids]
    slow.kill()
    assert before.count("Completed") < len(ids), "nothing was in flight at the kill"

    again = serve(COUNTING_APP, **counted).start()
    finals = {i: again.wait_done(i, timeout=60) for i in ids}
    assert {i: s for i, s in finals.items() if s["runtime_status"] != "Completed"} == {}
    for instance_id in ids:  # the producer retries everything it sent: finished questions stay finished
        assert again.ask({"question": "How are events deduplicated?", "request_id": instance_id}).status_code == 202
    time.sleep(2.0)  # a run started again would have executed its first steps by now

    runs = read_executions(markers)
    assert missing_steps(runs, ids) == {}
    assert repeats(runs) <= MAX_IN_FLIGHT, sorted(k for k, n in runs.items() if n > 1)
    assert max(runs.values()) <= 2

    lines = [json.loads(line) for line in (again.data_dir / "events.jsonl").read_text().splitlines()]
    completed = collections.Counter(e["subject"] for e in lines if e["type"] == COMPLETED_EVENT_TYPE)
    assert completed == {f"pipeline/{i}": 1 for i in ids}  # one line per question in the log
    delivered = webhook.wait_for(
        lambda evs: {e["id"] for e in evs} >= {event_id_for(i, COMPLETED_EVENT_TYPE) for i in ids}
    )
    # A webhook may see a repeat (at-least-once), but only ever with the same id.
    assert {e["id"] for e in delivered} == {event_id_for(i, COMPLETED_EVENT_TYPE) for i in ids}
