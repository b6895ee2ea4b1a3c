"""Delivery: retries with backoff, Retry-After, subscribers coming back, dead letters, leases."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

from providers.local.event_delivery import Backoff, DeliveryWorker

FAST_BACKOFF = Backoff(initial_s=0.02, max_s=0.1)


def _dead_letters(data_dir: Path) -> list[dict]:
    path = data_dir / "events-undelivered.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_503_twice_then_200_is_delivered_after_retries(tmp_path, receiver, make_sink, make_event):
    hook = receiver([(503, {}), (503, {}), (200, {})])
    sink = make_sink([hook.url])

    sink.publish(make_event("evt-503"))

    assert sink.flush(5)
    assert len(hook.requests) == 3
    assert len({r.body for r in hook.requests}) == 1  # the same event every time
    assert sink.worker.outbox.counts()["delivered"] == 1
    assert sink.worker.outbox.attempts("evt-503", hook.url) == 3
    assert _dead_letters(tmp_path) == []


def test_retry_after_is_honoured(receiver, make_sink, make_event):
    hook = receiver([(429, {"Retry-After": "1"}), (200, {})])
    sink = make_sink([hook.url])

    sink.publish(make_event("evt-429"))

    assert sink.flush(5)
    first, second = hook.requests
    assert second.at - first.at >= 0.9  # not the 20 ms backoff


def test_receiver_down_then_up_is_delivered_when_it_comes_back(receiver, make_sink, make_event, free_port, wait_until):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    sink = make_sink([url])

    sink.publish(make_event("evt-comeback"))
    assert wait_until(lambda: sink.worker.outbox.attempts("evt-comeback", url) >= 2)
    hook = receiver(port=port)

    assert sink.flush(5)
    assert len(hook.requests) == 1
    assert json.loads(hook.requests[0].body)["id"] == "evt-comeback"


def test_receiver_down_past_the_retry_window_is_dead_lettered(tmp_path, make_sink, make_event, free_port, wait_until):
    url = f"http://127.0.0.1:{free_port()}/hook"
    sink = make_sink([url], retry_window_s=0.5)
    event = make_event("evt-never")

    sink.publish(event)

    assert wait_until(lambda: _dead_letters(tmp_path), timeout=5)
    [dead] = _dead_letters(tmp_path)
    assert dead["event"] == event.to_structured()
    assert dead["url"] == url
    assert "retry window" in dead["reason"] and "connection error" in dead["reason"]
    assert dead["attempts"] >= 2
    # The dead letter is written before the row is marked, so a crash in between cannot lose it.
    assert wait_until(lambda: sink.worker.outbox.counts()["dead"] == 1)
    assert sink.flush(1)  # nothing left pending: dead is final
    time.sleep(0.2)
    assert len(_dead_letters(tmp_path)) == 1
    assert json.loads((tmp_path / "events.jsonl").read_text())["id"] == "evt-never"  # still logged


def test_a_400_is_dead_at_once(tmp_path, receiver, make_sink, make_event):
    hook = receiver([(400, {})])
    sink = make_sink([hook.url])

    sink.publish(make_event("evt-400"))

    assert sink.flush(5)
    time.sleep(0.2)
    assert len(hook.requests) == 1
    [dead] = _dead_letters(tmp_path)
    assert dead["reason"] == "HTTP 400 Bad Request"
    assert dead["attempts"] == 1
    assert dead["event"]["id"] == "evt-400"


def test_a_hanging_webhook_times_out_and_is_retried(receiver, make_sink, make_event):
    hook = receiver(delay_s=0.5)
    sink = make_sink([hook.url], request_timeout_s=0.2)

    sink.publish(make_event("evt-timeout"))
    time.sleep(0.4)
    hook.delay_s = 0.0

    assert sink.flush(5)
    assert len(hook.requests) >= 2


def test_two_workers_never_post_the_same_row_at_once(tmp_path, receiver, make_sink, make_event):
    hook = receiver(delay_s=0.01)
    publisher = make_sink([hook.url], start_worker=False)
    for n in range(40):
        publisher.publish(make_event(f"evt-race-{n}"))
    workers = [DeliveryWorker(tmp_path, backoff=FAST_BACKOFF, batch_size=4, concurrency=2) for _ in range(3)]

    def drain(worker: DeliveryWorker) -> None:
        while worker.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.stop()

    ids = [json.loads(r.body)["id"] for r in hook.requests]
    assert sorted(ids) == sorted(f"evt-race-{n}" for n in range(40))


def test_a_started_worker_delivers_what_it_finds(tmp_path, receiver, make_sink, make_event, wait_until):
    hook = receiver()
    make_sink([hook.url], start_worker=False).publish(make_event("evt-later"))
    assert hook.requests == []

    with DeliveryWorker(tmp_path, poll_interval_s=0.05) as worker:
        worker.start()
        assert wait_until(lambda: len(hook.requests) == 1)


def test_backoff_doubles_up_to_the_cap_with_jitter():
    backoff = Backoff(initial_s=0.5, max_s=60.0, multiplier=2.0, jitter=0.5)
    rng = random.Random(7)
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (8, 60.0), (500, 60.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(base * 0.5 <= d <= base for d in delays)
        assert max(delays) - min(delays) > base * 0.3  # actually spread


def test_a_webhook_urls_credentials_and_query_are_shown_nowhere(tmp_path, receiver, make_sink, make_event, caplog):
    """A webhook URL carries its secret in the query (`?token=`) or userinfo: neither reaches the log, the
    dead-letter file or the monitor's undelivered-events feed; scheme, host, port and path still do."""
    from config import Settings
    from providers.monitor_feeds import read_undelivered_events

    caplog.set_level("DEBUG")
    hook = receiver([(503, {}), (400, {})])
    host = hook.url.split("://", 1)[1].split("/", 1)[0]
    url = f"http://alice:pw-7c2e91@{host}/hook?token=tok-5d0a3f&code=key-19b4e2"
    sink = make_sink([url], backoff=FAST_BACKOFF)

    sink.publish(make_event("evt-secret"))

    assert sink.flush(5)
    time.sleep(0.2)
    assert len(hook.requests) == 2, "the URL was not used as given"
    [dead] = _dead_letters(tmp_path)
    feed = read_undelivered_events(Settings(pipeline_data_dir=tmp_path))["items"]
    assert dead["url"] == f"http://***@{host}/hook?token=***&code=***" and feed[0]["url"] == dead["url"]
    assert "not delivered to" in caplog.text and "retry in" in caplog.text and "HTTP Request: POST" in caplog.text
    shown = caplog.text + (tmp_path / "events-undelivered.jsonl").read_text() + json.dumps(feed)
    for secret in ("pw-7c2e91", "tok-5d0a3f", "key-19b4e2", "alice"):
        assert secret not in shown
