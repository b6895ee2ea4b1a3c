"""Publishing: the CloudEvent on the wire and in events.jsonl, idempotency, speed, concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from config.settings import Settings
from providers.errors import ProviderError
from providers.local.event_delivery import CONTENT_TYPE
from providers.local.events import LocalEventSink

REPO = Path(__file__).resolve().parents[3]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_event_is_delivered_once_as_a_structured_cloudevent(tmp_path, receiver, make_sink, make_event, wait_until):
    hook = receiver()
    sink = make_sink([hook.url])
    event = make_event("evt-wire", note="naïve ✓")

    sink.publish(event)

    assert sink.flush(5)
    assert len(hook.requests) == 1
    request = hook.requests[0]
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == CONTENT_TYPE
    assert not any(name.lower().startswith("ce-") for name in request.headers)  # structured, not binary
    # The CloudEvent's attributes and data are the EventPublisher contract (tests/contracts); here, the HTTP
    # binding: structured mode, read back whole by the CloudEvents SDK.
    parsed = from_http_event(HTTPMessage(headers=request.headers, body=request.body))
    assert parsed.get_id() == "evt-wire"
    assert json.loads(request.body) == event.to_structured()
    assert _lines(tmp_path / "events.jsonl") == [event.to_structured()]
    time.sleep(0.2)  # nothing else arrives later
    assert len(hook.requests) == 1


def test_publish_repeated_with_the_same_id_logs_and_delivers_once(tmp_path, receiver, make_sink, make_event):
    hook = receiver()
    sink = make_sink([hook.url])
    other_process = make_sink([hook.url])  # a second sink on the same data dir

    sink.publish(make_event("evt-dup"))
    sink.publish(make_event("evt-dup"))
    other_process.publish(make_event("evt-dup"))

    assert sink.flush(5) and other_process.flush(5)
    time.sleep(0.2)
    assert [line["id"] for line in _lines(tmp_path / "events.jsonl")] == ["evt-dup"]
    assert len(hook.requests) == 1


def test_each_webhook_gets_its_own_delivery(tmp_path, receiver, make_sink, make_event):
    first, second = receiver(), receiver([(500, {})])
    sink = make_sink([first.url, second.url])

    sink.publish(make_event("evt-two-hooks"))

    assert sink.flush(5)
    assert len(first.requests) == 1  # a failing neighbour does not cause repeats here
    assert len(second.requests) == 2
    assert sink.worker.outbox.counts()["delivered"] == 2


def test_publish_never_waits_for_a_hanging_webhook(receiver, make_sink, make_event):
    hook = receiver(delay_s=2.0)
    sink = make_sink([hook.url])

    durations = []
    for n in range(10):
        started = time.perf_counter()
        sink.publish(make_event(f"evt-slow-{n}"))
        durations.append(time.perf_counter() - started)

    # The webhook holds every request for 2 s; a publish that waited for it would take that long.
    # (How fast publishing is belongs to benchmarks, not to this test.)
    assert max(durations) < 1.0, durations
    assert sink.worker.running


def test_concurrent_publishers_write_whole_lines(tmp_path, make_sink, make_event):
    sink = make_sink()
    script = (
        "import sys; from providers.local.events import LocalEventSink; from providers.base import OutgoingEvent\n"
        "sink = LocalEventSink(sys.argv[1], start_worker=False)\n"
        "for n in range(100):\n"
        "    sink.publish(OutgoingEvent(id=f'p{sys.argv[2]}-{n}', type='t', source='/s', subject='x',"
        " time='2026-01-01T00:00:00Z', data={'pad': 'x' * 5000}))\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(p)], cwd=REPO) for p in range(3)]

    def publish_many(worker: int) -> None:
        for n in range(100):
            sink.publish(make_event(f"t{worker}-{n}", pad="y" * 5000))

    threads = [threading.Thread(target=publish_many, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(process.wait(30) == 0 for process in processes)

    ids = [line["id"] for line in _lines(tmp_path / "events.jsonl")]  # each line parses whole
    assert len(ids) == len(set(ids)) == 700


def test_without_webhooks_only_the_log_is_written(tmp_path, make_sink, make_event):
    sink = make_sink()
    sink.publish(make_event("evt-log-only"))
    assert sink.destination == "local:events.jsonl"
    assert sink.flush(1)
    assert sink.worker.outbox.counts() == {"pending": 0, "delivered": 0, "dead": 0, "unlogged": 0}
    assert [line["id"] for line in _lines(tmp_path / "events.jsonl")] == ["evt-log-only"]


def test_from_settings_uses_data_dir_and_webhooks(tmp_path):
    settings = Settings(
        pipeline_data_dir=tmp_path / "data",
        pipeline_event_webhooks="http://127.0.0.1:9/a, http://127.0.0.1:9/b",
    )
    sink = LocalEventSink.from_settings(settings, start_worker=False)
    assert sink.data_dir == tmp_path / "data"
    assert sink.webhooks == ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]
    assert sink.destination == "local:events.jsonl+2 webhooks"
    assert not (tmp_path / "data").exists()  # nothing touched before the first publish
    assert LocalEventSink(tmp_path, ["http://h/x"]).destination == "local:events.jsonl+1 webhook"


@pytest.mark.parametrize("url", ["ftp://host/x", "127.0.0.1:8080/hook", "http://"])
def test_a_webhook_that_is_not_an_http_url_is_a_configuration_error(tmp_path, url):
    with pytest.raises(ProviderError) as caught:
        LocalEventSink(tmp_path, [url])
    assert caught.value.kind.value == "configuration"
