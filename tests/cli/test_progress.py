"""The progress bar of long CLI work: count, rate and the time left, redrawn at most ten times a second."""

from __future__ import annotations

import io

from cli.progress import ProgressBar, format_duration


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bar_shows_rate_and_an_eta_from_the_average_so_far() -> None:
    bar = ProgressBar("indexing", width=10, clock=_Clock(), enabled=True)
    assert bar.line(2500, 10_000, elapsed=50.0) == "indexing [##........] 2500/10000 50.0 files/s ETA 2:30"
    assert bar.line(10_000, 10_000, elapsed=4000.0) == "indexing [##########] 10000/10000 2.5 files/s in 1:06:40"
    assert bar.line(0, 10, elapsed=0.0) == "indexing [..........] 0/10"


def test_redraws_are_limited_but_the_last_one_is_always_drawn() -> None:
    clock, stream = _Clock(), io.StringIO()
    with ProgressBar("indexing", stream=stream, width=4, clock=clock, enabled=True) as bar:
        for done in range(1, 1001):
            clock.now += 0.001  # 1,000 files in one second
            bar.update(done, 1000)
    drawn = stream.getvalue().split("\r")[1:]
    assert 9 <= len(drawn) <= 12  # about ten a second, not a thousand
    assert drawn[-1].startswith("indexing [####] 1000/1000 1000.0 files/s in 0:01")


def test_nothing_is_drawn_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with ProgressBar("indexing", stream=stream) as bar:
        bar.update(1, 2)
    assert stream.getvalue() == ""


def test_durations_read_as_minutes_or_hours() -> None:
    assert [format_duration(s) for s in (0, 59.6, 61, 3600, 36_000 + 62)] == [
        "0:00",
        "1:00",
        "1:01",
        "1:00:00",
        "10:01:02",
    ]
