"""Histories the engine wrote replay cleanly through the checker, including the host's own retry events.

`CallActivityWithRetry` makes the host (not the orchestrator) schedule the retry timers and the later
attempts, with ids the SDK draws in secret; the checker must follow them exactly as the engine did.
"""

from __future__ import annotations

from typing import Any

from embedded_host import EmbeddedHost
from embedded_host.durable.checker import check_recording
from embedded_host.durable.episode import handle_of
from embedded_host.durable.recorded import read_recording

RUNS: list[tuple[str, dict[str, Any], str]] = [
    ("with_retry", {"attempts": 3, "fail_times": 2, "key": "c1"}, "Completed"),
    ("with_retry", {"attempts": 2, "fail_times": 5, "key": "c2"}, "Failed"),
    ("manual_retry", {"fail_times": 2, "key": "c3"}, "Completed"),
]


def test_engine_histories_with_host_retries_replay_cleanly(run_host) -> None:
    async def scenario(host: EmbeddedHost) -> list[tuple[dict[str, Any], Any]]:
        recorded = []
        for name, data, expected in RUNS:
            iid = await host.start_new(name, data)
            status = await host.wait_for_completion(iid, 10)
            assert status and status["runtimeStatus"] == expected
            full = host.client.get_status(iid, show_history=True, show_history_output=True)
            spec = host.app.functions[name]
            recorded.append((full, handle_of(spec.func, spec.trigger_name)))
        return recorded

    for status, handle in run_host(scenario):
        report = check_recording(read_recording(status), handle, source=status["name"])
        assert report.ok, report.line()
        # the same history, checked against code that retries one time fewer, parts at the last attempt
        if status["name"] == "with_retry" and status["runtimeStatus"] == "Completed":
            status["input"]["attempts"] = 2
            report = check_recording(read_recording(status), handle, source="fewer attempts")
            assert report.outcome == "raises" and report.event_index is not None
