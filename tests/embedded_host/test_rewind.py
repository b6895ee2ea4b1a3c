"""Rewind in the engine and through the SDK client: what is undone, what runs again, what is refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from embedded_host import EmbeddedHost
from embedded_host.durable.rewind import RewindRefusedError
from embedded_host.functions.bindings import RPC_PATH

APP = Path(__file__).resolve().parents[1] / "conformance" / "app"


@pytest.fixture
def run_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    markers = tmp_path / "markers"
    monkeypatch.setenv("CONFORMANCE_MARKERS", str(markers))

    def runner(scenario: Any) -> Any:
        async def main() -> Any:
            async with EmbeddedHost(APP, tmp_path / "data") as host:
                return await scenario(host, markers)

        return asyncio.run(main())

    return runner


def test_rewind_undoes_the_failure_and_runs_only_the_failed_step_again(run_app) -> None:
    async def scenario(host: EmbeddedHost, markers: Path) -> None:
        host.client.start_instance("rewindable", "rw", json.dumps({"key": "rw"}))
        failed = await host.wait_for_completion("rw", 10)
        assert failed is not None and failed["runtimeStatus"] == "Failed"
        (markers / "rw.fixed").touch()
        # through the RPC route the SDK's client.rewind posts to
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{host.rpc_base_url}{RPC_PATH}instances/rw/rewind?reason=fixed")
            assert resp.status == 202
            assert (await http.post(f"{host.rpc_base_url}{RPC_PATH}instances/nope/rewind?reason=x")).status == 404
        status = await host.wait_for_completion("rw", 10)
        assert status is not None and status["output"] == ["rw:0", "fixed", "rw:1"]
        history = host.client.get_status("rw", show_history=True)["historyEvents"]
        kinds = [e["EventType"] for e in history]
        assert kinds.count("GenericEvent") == 3  # the TaskFailed, the failed ExecutionCompleted, the rewind mark
        assert kinds.count("TaskScheduled") == 3 and kinds.count("TaskCompleted") == 3
        assert kinds[-1] == "ExecutionCompleted" and history[-1]["OrchestrationStatus"] == "Completed"
        assert (markers / "rw").read_text().split() == ["0", "fragile", "fragile", "1"]

    run_app(scenario)


def test_a_retried_call_that_succeeded_does_not_stop_a_rewind(run_app) -> None:
    async def scenario(host: EmbeddedHost, markers: Path) -> None:
        host.client.start_instance("rewindable", "rt", json.dumps({"key": "rt", "with_retry": True}))
        assert (await host.wait_for_completion("rt", 10))["runtimeStatus"] == "Failed"
        (markers / "rt.fixed").touch()
        assert host.client.rewind("rt", "fixed") == 202
        status = await host.wait_for_completion("rt", 10)
        assert status is not None and status["output"] == ["rt:0", "fixed", "rt:1"]
        assert (markers / "rt").read_text().split() == ["0", "fragile", "fragile", "1"]

    run_app(scenario)


def test_rewind_of_a_retried_call_is_refused_and_changes_nothing(run_app) -> None:
    async def scenario(host: EmbeddedHost, markers: Path) -> None:
        data = {"key": "rr", "fail_times": 9, "attempts": 2, "retry_ms": 10, "rethrow": True}
        host.client.start_instance("activity_retry", "rr", json.dumps(data))
        failed = await host.wait_for_completion("rr", 10)
        assert failed is not None and failed["runtimeStatus"] == "Failed"
        with pytest.raises(RewindRefusedError, match=r"call_activity_with_retry .*\(task 0\) has failed attempts"):
            host.client.rewind("rr", "try")
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{host.rpc_base_url}{RPC_PATH}instances/rr/rewind?reason=try")
            assert resp.status == 409 and "not supported by the embedded host" in await resp.text()
        assert host.client.get_status("rr")["runtimeStatus"] == "Failed"

    run_app(scenario)


def test_rewind_of_an_instance_that_sent_entity_operations_is_refused(run_app) -> None:
    async def scenario(host: EmbeddedHost, markers: Path) -> None:
        # A signal to an entity no function serves fails the orchestration, as the extension fails it.
        order = {"key": "re", "signals": 1, "calls": 0, "entity": "NoSuchEntity"}
        host.client.start_instance("counter_workflow", "re", json.dumps(order))
        failed = await host.wait_for_completion("re", 10)
        assert failed is not None and failed["runtimeStatus"] == "Failed"
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{host.rpc_base_url}{RPC_PATH}instances/re/rewind?reason=try")
            assert resp.status == 409 and "entity operations" in await resp.text()
        assert host.client.get_status("re")["runtimeStatus"] == "Failed"

    run_app(scenario)
