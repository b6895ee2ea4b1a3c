"""The example subscriber: webhook handshake, structured and batched delivery, validation, dedupe.

Each test talks HTTP to the subscriber on a loopback port; the end-to-end test has the project's
own `LocalEventSink` deliver to it, as `pipeline serve` does with `PIPELINE_EVENT_WEBHOOKS`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from examples.subscriber.app import BATCH_CONTENT_TYPE, STRUCTURED_CONTENT_TYPE, DedupeStore, create_app
from tests.examples.conftest import Recorder, SubscriberServer, outgoing

STRUCTURED = {"Content-Type": f"{STRUCTURED_CONTENT_TYPE}; charset=utf-8"}
BATCH = {"Content-Type": BATCH_CONTENT_TYPE}


def _post(server: SubscriberServer, body: Any, headers: dict[str, str] = STRUCTURED) -> httpx.Response:
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(server.url, content=content, headers=headers, timeout=10)


# -- the handshake ----------------------------------------------------------------------------


def test_webhook_validation_handshake(subscriber: SubscriberServer) -> None:
    response = httpx.options(
        subscriber.url,
        headers={"WebHook-Request-Origin": "eventgrid.azure.net", "WebHook-Request-Rate": "120"},
    )
    assert response.status_code == 200
    assert response.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert response.headers["WebHook-Allowed-Rate"] == "*"
    assert "POST" in response.headers["Allow"]


def test_options_without_an_origin_grants_nothing(subscriber: SubscriberServer) -> None:
    response = httpx.options(subscriber.url)
    assert "WebHook-Allowed-Origin" not in response.headers


def test_handshake_refuses_origins_not_allowed(tmp_path: Path, recorder: Recorder) -> None:
    async def check() -> None:
        store = DedupeStore(tmp_path / "seen.sqlite3")
        app = create_app(store, recorder, allowed_origins=["eventgrid.azure.net"], allowed_rate="100")
        async with TestClient(TestServer(app)) as client:
            ok = await client.options("/api/events", headers={"WebHook-Request-Origin": "EventGrid.azure.net"})
            assert ok.status == 200 and ok.headers["WebHook-Allowed-Rate"] == "100"
            no = await client.options("/api/events", headers={"WebHook-Request-Origin": "evil.example"})
            assert no.status == 403 and "WebHook-Allowed-Origin" not in no.headers
        store.close()

    asyncio.run(check())


# -- delivery ---------------------------------------------------------------------------------


def test_structured_event_is_handled(subscriber: SubscriberServer, recorder: Recorder) -> None:
    event = outgoing("run-1").to_structured()
    response = _post(subscriber, event)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0}
    assert recorder.events == [event]


def test_failed_event_is_handled(subscriber: SubscriberServer, recorder: Recorder) -> None:
    response = _post(subscriber, outgoing("run-2", failed=True).to_structured())
    assert response.status_code == 200, response.text
    assert recorder.events[0]["data"]["step"] == "generate_answer"


def test_a_stale_event_is_validated_deduped_and_flags_the_kept_answer(
    subscriber: SubscriberServer, recorder: Recorder
) -> None:
    import io

    from contracts import STALE_EVENT_TYPE, stale_event_id
    from examples.subscriber.app import PrintHandler
    from providers.base import OutgoingEvent

    data = {
        "instance_id": "run-1",
        "question": "What does a ferry ticket cost?",
        "passages": [{"source": "ferry.md", "page": None, "chunk_id": "c1", "change": "changed"}],
        "sources": ["ferry.md"],
        "detected_at": "2026-12-07T18:00:00Z",
        "superseded_by": "reanswer-x",
    }
    stale = OutgoingEvent(
        id=stale_event_id("run-1", ["c1"]),
        type=STALE_EVENT_TYPE,
        source="/durable-ai-pipeline",
        subject="pipeline/run-1",
        time="2026-12-07T18:00:00Z",
        data=data,
    ).to_structured()
    assert _post(subscriber, stale).json() == {"accepted": 1, "duplicates": 0}
    assert _post(subscriber, stale).json() == {"accepted": 0, "duplicates": 1}
    assert recorder.events == [stale]
    no_passages = {**stale, "id": "other", "data": {**data, "passages": []}}
    refused = _post(subscriber, no_passages)
    assert refused.status_code == 400 and "StaleEventData" in refused.json()["detail"]
    out = io.StringIO()
    PrintHandler(stream=out)(stale)
    assert "stale: ferry.md changed; answered again as pipeline/reanswer-x" in out.getvalue()


def test_batch_is_handled_event_by_event(subscriber: SubscriberServer, recorder: Recorder) -> None:
    batch = [outgoing("run-1").to_structured(), outgoing("run-2", failed=True).to_structured()]
    response = _post(subscriber, [*batch, batch[0]], BATCH)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 1}
    assert recorder.ids() == [batch[0]["id"], batch[1]["id"]]


def test_duplicate_is_acknowledged_but_not_handled_again(subscriber: SubscriberServer, recorder: Recorder) -> None:
    event = outgoing("run-1").to_structured()
    assert _post(subscriber, event).json() == {"accepted": 1, "duplicates": 0}
    assert _post(subscriber, event).json() == {"accepted": 0, "duplicates": 1}
    assert len(recorder.events) == 1


def test_same_id_from_another_source_is_another_event(subscriber: SubscriberServer, recorder: Recorder) -> None:
    event = outgoing("run-1").to_structured()
    _post(subscriber, event)
    _post(subscriber, {**event, "source": "/another-pipeline"})
    assert len(recorder.events) == 2


def test_dedupe_survives_a_restart(subscriber: SubscriberServer, recorder: Recorder) -> None:
    event = outgoing("run-1").to_structured()
    _post(subscriber, event)
    subscriber.restart()
    assert _post(subscriber, event).json() == {"accepted": 0, "duplicates": 1}
    assert len(recorder.events) == 1


def test_a_failing_handler_lets_the_sender_retry(subscriber: SubscriberServer, recorder: Recorder) -> None:
    event = outgoing("run-1").to_structured()
    recorder.fail_next = True
    assert _post(subscriber, event).status_code == 500
    assert _post(subscriber, event).json() == {"accepted": 1, "duplicates": 0}
    assert len(recorder.events) == 1


# -- validation -------------------------------------------------------------------------------


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}


_VALID = outgoing("run-1").to_structured()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({**_VALID, "specversion": "0.3"}, "specversion"),
        (_without(_VALID, "id"), "id"),
        ({**_VALID, "source": ""}, "source"),
        (_without(_VALID, "type"), "type"),
        ({**_VALID, "type": "Something.Else"}, "unknown type"),
        ({**_VALID, "datacontenttype": "text/plain"}, "datacontenttype"),
        (_without(_VALID, "data"), "carry data"),
        ({**_VALID, "data": {**_VALID["data"], "answer": None}}, "valid Result"),
        ({**_VALID, "data": {**_VALID["data"], "unexpected": 1}}, "valid Result"),
        ({**outgoing("run-2", failed=True).to_structured(), "data": {"step": "x"}}, "valid FailedEventData"),
        ([_VALID], "JSON object"),
        ("{not json", "not JSON"),
    ],
)
def test_invalid_events_get_400(subscriber: SubscriberServer, recorder: Recorder, body: Any, problem: str) -> None:
    response = _post(subscriber, body)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert problem in response.json()["detail"]
    assert recorder.events == []


def test_a_batch_with_one_bad_event_is_rejected_whole(subscriber: SubscriberServer, recorder: Recorder) -> None:
    response = _post(subscriber, [_VALID, _without(_VALID, "id")], BATCH)
    assert response.status_code == 400
    assert "event 1" in response.json()["detail"]
    assert _post(subscriber, _VALID, BATCH).status_code == 400  # a batch is an array
    assert recorder.events == []


def test_other_content_types_get_415(subscriber: SubscriberServer) -> None:
    assert _post(subscriber, _VALID, {"Content-Type": "text/plain"}).status_code == 415


def test_oversized_body_gets_413(subscriber: SubscriberServer) -> None:
    assert _post(subscriber, b"x" * (1024 * 1024 + 1)).status_code == 413


# -- end to end with the pipeline's local event sink -------------------------------------------


def _wait_for(condition: Any, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.e2e
def test_local_event_sink_delivers_each_event_once(
    subscriber: SubscriberServer, recorder: Recorder, tmp_path: Path
) -> None:
    from providers.local.events import LocalEventSink

    completed, failed = outgoing("run-e2e"), outgoing("run-e2e-2", failed=True)
    # Two pipelines' sinks (separate outboxes) publish the same events: both deliver them, as a
    # re-publish after a crash would, and the subscriber handles each once.
    sinks = [
        LocalEventSink(tmp_path / f"pipeline-{n}", [subscriber.url], poll_interval_s=0.05, request_timeout_s=5)
        for n in (1, 2)
    ]
    try:
        for sink in sinks:
            for event in (completed, failed, completed):
                sink.publish(event)
        for sink in sinks:
            assert sink.flush(timeout_s=15), "events were not delivered"
    finally:
        for sink in sinks:
            sink.close()
    assert _wait_for(lambda: len(recorder.events) >= 2)
    assert sorted(recorder.ids()) == sorted([completed.id, failed.id])
    delivered = recorder.events[recorder.ids().index(completed.id)]
    assert delivered == completed.to_structured()
    assert delivered["traceparent"] == completed.traceparent


@pytest.mark.e2e
def test_runs_as_a_module(tmp_path: Path) -> None:
    """`python -m examples.subscriber.app --port N` serves, handles an event, and prints it."""
    root = Path(__file__).resolve().parents[2]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events_file = tmp_path / "received.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "examples.subscriber.app",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "seen.db"),
            "--events-file",
            str(events_file),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_for(lambda: _healthy(base), 20), "the subscriber did not come up"
        event = outgoing("run-cli").to_structured()
        response = httpx.post(f"{base}/api/events", json=event, headers=STRUCTURED)
        assert response.status_code == 200, response.text
        assert json.loads(events_file.read_text(encoding="utf-8").splitlines()[0]) == event
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert "DurableAIPipeline.Answer.Completed pipeline/run-cli answer:" in out


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
