"""The machine failing under `pipeline serve` (see `machine.py`): a full disk, then room again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.machine import can_mount, run_disk_full
from tests.chaos.scenarios import pretty

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.skipif(not can_mount(), reason="mounting a small tmpfs needs root"),
]


def test_a_full_disk_refuses_starts_with_503_and_everything_accepted_finishes_once_space_returns(
    tmp_path: Path,
) -> None:
    figures = run_disk_full(tmp_path, timeout_s=30)
    print(pretty(figures))
    notes = figures.notes
    # Nothing accepted (over HTTP or from the queue) is lost or run twice, and no restart was needed.
    assert (figures.lost, figures.duplicated) == (0, 0), pretty(figures)
    assert notes["accepted"] > 0 and notes["accepted_after_growth"] == 202
    assert notes["queue_dead_letters"] == 0
    # While full: starts were refused, every refusal a 503 problem+json with Retry-After, no 500.
    assert notes["refused"] > 0 and notes["refused_not_503_problem"] == 0
    assert figures.server_errors == 0  # no 5xx but those 503s (a 500 with an empty body was the bug)
    # The log says it once per episode (a write that squeezes through ends one), not per request; no tracebacks.
    assert 1 <= notes["outage_warnings_while_full"] <= 3 and notes["resumed"] >= 1 and notes["tracebacks"] == 0
    assert notes["log_lines"] < 30, notes
    # `pipeline index` on the full disk: one line, non-zero, the index as it was.
    assert notes["index_exit_code"] != 0 and notes["index_unchanged"]
    assert len(notes["index_stderr"]) == 1 and "disk is full" in notes["index_stderr"][0]
