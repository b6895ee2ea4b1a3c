"""`read_events`: what `pipeline events [--follow]` prints."""

from __future__ import annotations

import threading

from providers.local.events import read_events


def test_read_events_in_order_skipping_bad_lines(tmp_path, make_sink, make_event):
    sink = make_sink()
    sink.publish(make_event("evt-a"))
    with (tmp_path / "events.jsonl").open("a") as file:
        file.write("not json\n\n")
    sink.publish(make_event("evt-b"))

    assert [event["id"] for event in read_events(tmp_path)] == ["evt-a", "evt-b"]


def test_read_events_of_an_empty_data_dir(tmp_path):
    assert list(read_events(tmp_path / "nothing-yet")) == []


def test_follow_tails_new_events_and_survives_truncation(tmp_path, make_sink, make_event, wait_until):
    stop = threading.Event()
    seen: list[str] = []
    follower = threading.Thread(
        target=lambda: seen.extend(e["id"] for e in read_events(tmp_path, True, poll_interval_s=0.01, stop=stop))
    )
    follower.start()  # before the file exists
    try:
        sink = make_sink()
        sink.publish(make_event("evt-1"))
        assert wait_until(lambda: seen == ["evt-1"])
        sink.publish(make_event("evt-2"))
        assert wait_until(lambda: seen == ["evt-1", "evt-2"])

        path = tmp_path / "events.jsonl"
        path.write_text("")  # rotated by hand
        with path.open("a") as file:
            file.write('{"id": "evt-3"')  # half a line: not yet an event
            file.flush()
            assert not wait_until(lambda: len(seen) > 2, timeout=0.1)
            file.write("}\n")
        assert wait_until(lambda: seen == ["evt-1", "evt-2", "evt-3"])
    finally:
        stop.set()
        follower.join(2)
    assert not follower.is_alive()
