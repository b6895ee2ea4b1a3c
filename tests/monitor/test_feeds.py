"""The monitor's read-only feeds: dead letters and undelivered events, read from the local state."""

from __future__ import annotations

import json
from pathlib import Path

import azure.functions as func
import pytest

from config import Settings
from embedded_host import LocalQueue, state_path
from providers.monitor_feeds import MAX_ROWS, read_dead_letters, read_undelivered_events
from triggers.monitor_feeds import list_dead_letters


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(pipeline_data_dir=tmp_path)


def test_no_state_yet_is_an_empty_feed(settings: Settings) -> None:
    assert read_dead_letters(settings) == {"source": "local", "items": [], "errors": []}
    assert not state_path(settings.pipeline_data_dir).exists()  # looking creates no state file
    assert read_undelivered_events(settings) == {"source": "local", "available": True, "items": []}


def test_dead_letters_of_both_kinds_newest_first(settings: Settings) -> None:
    db = state_path(settings.pipeline_data_dir)
    with LocalQueue(db, settings.pipeline_queue_name, max_delivery_count=1) as queue:
        queue.send(b'{"question": "<script>alert(1)</script>"}', message_id="poison")
        message = queue.receive()[0]
        queue.abandon(message)  # one delivery allowed: dead-lettered
    envelope = {
        "DeadLetterReason": "InvalidJson",
        "DeadLetterErrorDescription": "not JSON",
        "message_id": "orig-7",
        "body": "{nope",
    }
    with LocalQueue(db, settings.pipeline_dead_letter_queue_name) as rejected:
        rejected.send(json.dumps(envelope).encode(), message_id="copy-7")
    items = read_dead_letters(settings)["items"]
    assert [(i["message_id"], i["reason"]) for i in items] == [
        ("orig-7", "InvalidJson"),
        ("poison", "MaxDeliveryCountExceeded"),
    ]
    assert items[0]["body"] == "{nope" and "<script>" in items[1]["body"]


def test_undelivered_events_newest_first_and_bounded(settings: Settings) -> None:
    path = settings.pipeline_data_dir / "events-undelivered.jsonl"
    lines = [json.dumps({"event": {"id": f"e{i}"}, "reason": "HTTP 500", "attempts": 3}) for i in range(MAX_ROWS + 5)]
    path.write_text("\n".join(lines[:3]) + "\nnot json\n" + "\n".join(lines[3:]) + "\n")
    items = read_undelivered_events(settings)["items"]
    assert len(items) == MAX_ROWS and items[0]["event"]["id"] == f"e{MAX_ROWS + 4}"


def test_event_grid_says_it_cannot_show_them(settings: Settings) -> None:
    azure = settings.model_copy(update={"eventgrid_topic_endpoint": "https://t.westeurope-1.eventgrid.azure.net"})
    feed = read_undelivered_events(azure)
    assert feed["available"] is False and "dead-letter" in feed["detail"]


def test_route_answers_json_without_caching(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("triggers.monitor_feeds.get_settings", lambda: settings)
    resp = list_dead_letters._function._func(func.HttpRequest("GET", "http://h/api/monitor/dead-letters", body=b""))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert json.loads(resp.get_body()) == {"source": "local", "items": [], "errors": []}


def test_on_service_bus_a_queue_the_app_may_not_peek_is_an_error_of_that_queue_not_a_500(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On Azure the app's identity once held only Send on questions-deadletter: peeking it (Listen) was
    # refused and the whole route answered 500. Now the feed shows what it could read, and says what not.
    from azure.servicebus import ServiceBusSubQueue

    from providers.azure.service_bus import ServiceBusQueue
    from tests.providers.azure.test_service_bus_queue import FakeClient, listen_refused, received

    client = FakeClient(
        peeked={
            ("questions", ServiceBusSubQueue.DEAD_LETTER): [
                received(
                    b'{"question": "q"}',
                    message_id="m-9",
                    dead_letter_reason="MaxDeliveryCountExceeded",
                    dead_letter_error_description="10 deliveries",
                    delivery_count=10,
                )
            ]
        },
        refused={("questions-deadletter", None): listen_refused("questions-deadletter")},
    )
    on_azure = settings.model_copy(update={"service_bus_namespace": "ns.servicebus.windows.net"})
    monkeypatch.setattr("triggers.monitor_feeds.get_settings", lambda: on_azure)
    monkeypatch.setattr(ServiceBusQueue, "_build", lambda self: client)

    resp = list_dead_letters._function._func(func.HttpRequest("GET", "http://h/api/monitor/dead-letters", body=b""))

    assert resp.status_code == 200
    feed = json.loads(resp.get_body())
    assert [(i["queue"], i["message_id"]) for i in feed["items"]] == [("questions/$deadletterqueue", "m-9")]
    assert [e["queue"] for e in feed["errors"]] == ["questions-deadletter"]
    assert "'Listen' claim(s) are required" in feed["errors"][0]["error"]
