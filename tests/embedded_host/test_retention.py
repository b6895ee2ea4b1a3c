"""PIPELINE_RETENTION_DAYS: finished runs older than that are purged by the engine; running ones never are."""

from __future__ import annotations

import asyncio
import time

import pytest

from embedded_host import EmbeddedHost, HostConfigError


def test_finished_runs_past_the_retention_go_and_running_ones_stay(run_host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_RETENTION_DAYS", str(1.5 / 86_400))  # 1.5 s

    async def scenario(host: EmbeddedHost) -> None:
        waiting = await host.start_new("wait_event")
        finished = [await host.start_new("sequence", {"steps": 1}) for _ in range(3)]
        for instance_id in finished:
            status = await host.wait_for_completion(instance_id, 10)
            assert status and status["runtimeStatus"] == "Completed"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(host.get_status(i) is not None for i in finished):
            await asyncio.sleep(0.2)
        assert all(host.get_status(i) is None for i in finished)  # history and all: purged
        running = host.get_status(waiting)
        assert running and running["runtimeStatus"] in ("Pending", "Running")
        assert host.engine is not None and host.engine.purged == 3

    run_host(scenario)


def test_off_by_default_and_a_bad_value_stops_the_start(run_host, monkeypatch: pytest.MonkeyPatch) -> None:
    async def kept(host: EmbeddedHost) -> None:
        assert host.engine is not None and host.engine.keep_finished_s is None

    run_host(kept)
    monkeypatch.setenv("PIPELINE_RETENTION_DAYS", "a week")
    with pytest.raises(HostConfigError, match="PIPELINE_RETENTION_DAYS"):
        run_host(kept)
