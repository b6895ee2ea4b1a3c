"""The local queue alone (peek-lock, delivery count, dead-letter) and through the Service Bus trigger."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from embedded_host import EmbeddedHost, LocalQueue, list_dead_letters, state_path


def test_peek_lock_delivery_count_and_dead_letter(tmp_path: Path) -> None:
    db = state_path(tmp_path)
    with LocalQueue(db, "q", max_delivery_count=2, lock_duration_s=0.2) as queue:
        mid = queue.send(b"hello", application_properties={"traceparent": "x"}, content_type="text/plain")
        first = queue.receive()[0]
        assert (first.message_id, first.body, first.delivery_count) == (mid, b"hello", 1)
        assert first.application_properties == {"traceparent": "x"}
        assert queue.receive() == []  # locked
        time.sleep(0.25)  # the lock expires: delivered again
        second = queue.receive()[0]
        assert second.delivery_count == 2
        assert not queue.complete(first)  # a lost lock cannot settle
        queue.abandon(second, "ValueError: nope")  # the last delivery failed: dead-lettered
        assert queue.receive() == [] and queue.active_count() == 0
        [dead] = queue.dead_letters()
        assert dead.reason == "MaxDeliveryCountExceeded" and "ValueError: nope" in (dead.description or "")
        # Another "process" on the same file sees the same queue.
        with LocalQueue(db, "q") as other:
            other.send("two")
        third = queue.receive()[0]
        assert queue.complete(third, [("out", b"x", {"k": "v"}, None)])
    with LocalQueue(db, "out") as out:
        msg = out.receive()[0]
        assert msg.body == b"x" and msg.application_properties == {"k": "v"}
    assert [d.reason for d in list_dead_letters(db)] == ["MaxDeliveryCountExceeded"]


def test_service_bus_trigger_output_binding_and_retries(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> None:
        host.send(json.dumps({"q": 1}), message_id="msg-1")
        host.send("invalid", message_id="msg-bad")
        host.send("explode", message_id="msg-boom")
        status = await host.wait_for_completion("msg-1", 10)
        for _ in range(20):
            if status is not None:
                break
            await asyncio.sleep(0.05)
            status = await host.wait_for_completion("msg-1", 10)
        assert status and status["runtimeStatus"] == "Completed" and status["output"] == [1, 2]
        queue = host.queue()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and queue.active_count():
            await asyncio.sleep(0.05)
        letters = {d.message_id: d for d in list_dead_letters(host.db_path)}
        assert letters["msg-boom"].reason == "MaxDeliveryCountExceeded"
        assert "consumer exploded" in (letters["msg-boom"].description or "")
        assert letters["msg-boom"].delivery_count == 10
        assert set(letters) == {"msg-boom"}  # what the app moved itself is the app's to read
        moved = [json.loads(m.body) for m in host.queue("test-deadletter").peek()]
        assert [(m["body"], m["DeadLetterReason"]) for m in moved] == [("invalid", "InvalidQuestion")]
        assert host.queue("test-deadletter").peek() and host.queue("test-deadletter").active_count() == 1

    run_host(scenario)
