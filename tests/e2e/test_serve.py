"""The whole product through real processes and sockets: `pipeline serve`, HTTP, the queue, webhooks."""

from __future__ import annotations

import json

import httpx
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from contracts import COMPLETED_EVENT_TYPE, FAILED_EVENT_TYPE, event_id_for

pytestmark = pytest.mark.e2e

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_http_question_completes_and_the_cloudevent_reaches_the_webhook(serve, webhook) -> None:
    server = serve(PIPELINE_EVENT_WEBHOOKS=webhook.url).start()

    started = httpx.post(
        server.base_url + "/api/pipeline/start",
        json={"question": "How does the pipeline retry a failed step?", "request_id": "e2e-1", "top_k": 4},
        headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
        timeout=10,
    )
    assert started.status_code == 202
    body = started.json()
    assert body["instance_id"] == "e2e-1" and started.headers["Location"] == body["status_query_get_uri"]
    followed = httpx.get(started.headers["Location"], timeout=10)  # a client following Location needs no key
    assert followed.status_code in (200, 202) and followed.json()["instanceId"] == "e2e-1"

    done = server.wait_done("e2e-1")
    assert done["runtime_status"] == "Completed"
    result = done["result"]
    assert result["citations"] and all(c["quote"] for c in result["citations"])
    # Every step's time, publish_result's too (the run's output adds it after the event went out).
    assert set(result["timings_ms"]) == {"embed_query", "search_documents", "generate_answer", "publish_result"}

    durable = httpx.get(body["status_query_get_uri"], timeout=10).json()
    assert durable["runtimeStatus"] == "Completed" and durable["output"]["answer"] == result["answer"]

    events = webhook.wait_for(lambda evs: len(evs) >= 1)
    event = from_http_event(HTTPMessage(headers=webhook.headers[0], body=json.dumps(events[0]).encode()))
    assert event.get_specversion() == "1.0"
    assert event.get_type() == COMPLETED_EVENT_TYPE
    assert event.get_id() == event_id_for("e2e-1", COMPLETED_EVENT_TYPE)
    assert event.get_subject() == "pipeline/e2e-1"
    assert events[0]["traceparent"].split("-")[1] == TRACE_ID
    assert events[0]["data"]["answer"] == result["answer"]

    again = server.ask({"question": "How does the pipeline retry a failed step?", "request_id": "e2e-1"})
    assert again.status_code == 202 and again.json()["created"] is False
    lines = (server.data_dir / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [event.get_id()]


def test_bad_http_input_is_problem_json_never_500(serve) -> None:
    server = serve().start()
    cases = [
        httpx.post(server.base_url + "/api/pipeline/start", content=b"{", headers={"content-type": "application/json"}),
        httpx.post(server.base_url + "/api/pipeline/start", content=b"hi", headers={"content-type": "text/plain"}),
        httpx.post(server.base_url + "/api/pipeline/start", json={"question": "q", "top_k": 0}),
        httpx.post(server.base_url + "/api/pipeline/start", json={"question": "x" * 70000}),
    ]
    assert [r.status_code for r in cases] == [400, 415, 400, 413]
    assert all(r.headers["content-type"].startswith("application/problem+json") for r in cases)
    # Every problem has the same shape, the host's 413 included: type, title, status, detail, instance.
    for response in cases:
        body = response.json()
        assert {"type", "title", "status", "detail", "instance"} <= set(body), body
        assert body["instance"] == "/api/pipeline/start" and body["status"] == response.status_code
    missing = httpx.get(server.base_url + "/api/pipeline/nope")
    assert missing.status_code == 404 and missing.json()["title"] == "Unknown instance"
    wrong_method = httpx.get(server.base_url + "/api/pipeline/start")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"


def test_queue_messages_complete_and_invalid_ones_are_dead_lettered_with_a_reason(serve, tmp_path) -> None:
    server = serve().start()
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"question": "Qu\u00e9 es un task hub?"}'.encode("latin-1"))  # not UTF-8
    assert server.cli("enqueue", "--raw-file", str(latin1), "--message-id", "q-latin1").returncode == 0
    ok = server.cli("enqueue", "What does peek-lock mean?", "--message-id", "q-good")
    assert ok.returncode == 0, ok.stderr
    for raw, mid in (("not json", "q-bad-json"), ('{"question": "q", "top_k": 99}', "q-bad-topk"), ("", "q-empty")):
        result = server.cli("enqueue", "--raw", raw, "--message-id", mid)
        assert result.returncode == 0, result.stderr
    dup = server.cli("enqueue", "What does peek-lock mean?", "--message-id", "q-good")
    assert dup.returncode == 0

    assert server.wait_done("q-good")["runtime_status"] == "Completed"

    def dead() -> dict[str, dict]:
        listing = server.cli("dead-letters", "--json")
        assert listing.returncode == 0, listing.stderr
        return {row["message_id"]: row for row in json.loads(listing.stdout)}

    import time

    deadline = time.monotonic() + 20
    rows = dead()
    while len(rows) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = dead()
    assert {mid: row["reason"] for mid, row in rows.items()} == {
        "q-bad-json": "InvalidJson",
        "q-bad-topk": "InvalidQuestion",
        "q-empty": "EmptyBody",
        "q-latin1": "InvalidEncoding",
    }
    assert "top_k" in rows["q-bad-topk"]["description"]
    assert rows["q-bad-json"]["body"] == {"text": "not json"}


def test_retries_then_success_and_a_permanent_failure_publishes_failed(serve, webhook) -> None:
    server = serve(
        PIPELINE_EVENT_WEBHOOKS=webhook.url,
        PIPELINE_FAULTS="generation=transient:0.5",
        PIPELINE_FAULTS_SEED="4",
        PIPELINE_RETRY_MAX_ATTEMPTS="6",
    ).start()
    ids = [f"flaky-{i}" for i in range(6)]
    for instance_id in ids:
        assert server.ask({"question": "What is a task hub?", "request_id": instance_id}).status_code == 202
    assert all(server.wait_done(i)["runtime_status"] == "Completed" for i in ids)
    # The retries are in history: each failed attempt a TaskFailed, then the backoff's durable timer, then
    # the next attempt; a run that never failed would pass the lines above just as well.
    retried = {}
    for instance_id in ids:
        url = f"{server.base_url}/runtime/webhooks/durabletask/instances/{instance_id}?showHistory=true"
        history = httpx.get(url).json()
        assert history["runtimeStatus"] == "Completed"
        kinds = [e["EventType"] for e in history["historyEvents"]]
        attempts = [e for e in history["historyEvents"] if e["EventType"] == "TaskScheduled"]
        failed = kinds.count("TaskFailed")
        assert sum(e["Name"] == "generate_answer" for e in attempts) == failed + 1, kinds
        assert kinds.count("TimerCreated") == kinds.count("TimerFired") == failed, kinds
        for at in (n for n, kind in enumerate(kinds) if kind == "TaskFailed"):
            assert "TimerCreated" in kinds[at:] and kinds[at:].index("TimerCreated") < kinds[at:].index("TimerFired")
        retried[instance_id] = failed
    assert sum(retried.values()) >= 2, f"no retries to check: {retried}"
    server.stop()

    broken = serve(PIPELINE_EVENT_WEBHOOKS=webhook.url, PIPELINE_FAULTS="retrieval=permanent:1").start()
    assert broken.ask({"question": "What is a task hub?", "request_id": "doomed"}).status_code == 202
    done = broken.wait_done("doomed")
    assert done["runtime_status"] == "Failed"
    assert "search_documents failed after 1 attempt(s) (rejected)" in done["error"]
    events = webhook.wait_for(lambda evs: any(e["type"] == FAILED_EVENT_TYPE for e in evs))
    failed = next(e for e in events if e["type"] == FAILED_EVENT_TYPE)
    assert failed["id"] == event_id_for("doomed", FAILED_EVENT_TYPE)
    assert failed["data"]["step"] == "search_documents" and failed["data"]["attempts"] == 1
    assert "Traceback" not in json.dumps(failed)
