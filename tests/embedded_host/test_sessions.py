"""Extended sessions (embedded_host/durable/sessions.py): a kept SDK executor answers what a full replay would.

Each scenario runs twice on the basic app, once with sessions (the default) and once with host.json's
``extendedSessionsEnabled: false``; the histories must match event for event, and the outputs too. A
counter of the SDK's context builds shows which of the two actually replayed.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext

from embedded_host import EmbeddedHost
from embedded_host.durable.sessions import SessionPool
from tests.embedded_host.app_copies import app_with_sessions
from tests.embedded_host.conftest import BASIC_APP

CONFORMANCE_APP = Path(__file__).parents[1] / "conformance" / "app"
# (orchestrator, input, events to raise once it waits): sequences, fan-out, the SDK's retry with the
# host's hidden timers, a retry loop of the app's own with timers, buffered external events, a timer;
# then entity signals and calls (the SDK learns each call's request id from the recorded EventSent).
SCENARIOS: list[tuple[Path, str, Any, list[str]]] = [
    (BASIC_APP, "sequence", {"steps": 4}, []),
    (BASIC_APP, "fan_out", None, []),
    (BASIC_APP, "with_retry", {"attempts": 3, "fail_times": 2, "key": "r"}, []),
    (BASIC_APP, "manual_retry", {"fail_times": 2, "key": "m"}, []),
    (BASIC_APP, "collect_events", {"names": ["a", "b"]}, ["b", "a"]),
    (BASIC_APP, "timer_then_event", {"ms": 50}, ["go"]),
    (CONFORMANCE_APP, "counter_workflow", {"key": "k", "signals": 2, "calls": 2}, []),
]
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KEYS = ("EventType", "EventId", "Name", "TaskScheduledId", "TimerId", "Input", "Result", "Reason")


def _shape(status: dict[str, Any]) -> str:
    """The history without its times, each GUID (made from the run's clock) named by its first appearance,
    so an entity call's request id still has to match the name of its response. Completions that landed
    together (a fan-out's) are sorted: which activity finishes first is a race in either mode."""
    events = [{k: e.get(k) for k in _KEYS if k in e} for e in status["historyEvents"]]
    for start in range(len(events)):
        end = start
        while end < len(events) and events[end]["EventType"] == "TaskCompleted":
            end += 1
        events[start:end] = sorted(events[start:end], key=lambda e: e["TaskScheduledId"])
    text = json.dumps(events)
    names: dict[str, str] = {}
    return _GUID.sub(lambda m: names.setdefault(m.group(0), f"guid-{len(names)}"), text)


def _counting_context_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    original = DurableOrchestrationContext.from_json.__func__

    def from_json(cls: type, json_string: str) -> Any:
        built.append(json.loads(json_string)["instanceId"])
        return original(cls, json_string)

    monkeypatch.setattr(DurableOrchestrationContext, "from_json", classmethod(from_json))
    return built


def _run_all(sessions: bool, tmp_path: Path, marker_dir: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """Every scenario to completion: (their statuses with history, how many episodes the engines ran)."""
    for marker in marker_dir.iterdir():  # the flaky activity counts its failures in files: start afresh
        marker.unlink()

    async def run(source: Path, scenarios: list[tuple[str, Any, list[str]]]) -> tuple[dict[str, Any], int]:
        data = tmp_path / f"data-{source.name}-{sessions}"
        app = app_with_sessions(source, tmp_path / f"{source.name}-{'sessions' if sessions else 'replays'}", sessions)
        async with EmbeddedHost(app, data) as host:
            results: dict[str, dict[str, Any]] = {}
            for name, payload, events in scenarios:
                iid = await host.start_new(name, payload, instance_id=f"run-{name}")
                for event in events:
                    await asyncio.sleep(0.1)  # the first may land before its wait: buffered, as in DTFx
                    host.raise_event(iid, event, event.upper())
                status = await host.wait_for_completion(iid, 20)
                assert status is not None and status["runtimeStatus"] == "Completed", (name, status)
                results[name] = host.get_status(iid, show_history=True) or {}
            assert host.engine is not None
            return results, host.engine.episodes

    results: dict[str, dict[str, Any]] = {}
    episodes = 0
    for source in dict.fromkeys(app for app, *_ in SCENARIOS):
        ran, count = asyncio.run(run(source, [tuple(rest) for app, *rest in SCENARIOS if app == source]))
        results.update(ran)
        episodes += count
    return results, episodes


def test_a_kept_executor_writes_the_history_a_full_replay_writes(
    tmp_path: Path, marker_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _counting_context_builds(monkeypatch)
    kept, _ = _run_all(True, tmp_path, marker_dir)
    builds_with_sessions = len(built)
    built.clear()
    replayed, episodes = _run_all(False, tmp_path, marker_dir)
    for _, name, *_ in SCENARIOS:
        assert kept[name]["output"] == replayed[name]["output"], name
        assert _shape(kept[name]) == _shape(replayed[name]), name
    # Without sessions a context is built from the whole history at every episode.
    assert len(built) == episodes > 2 * len(SCENARIOS)
    assert builds_with_sessions == len(SCENARIOS)  # with them: once per run, then only new events are fed


def test_the_pool_keeps_at_most_its_capacity_and_runs_past_it_still_complete(
    tmp_path: Path, marker_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("embedded_host.durable.engine.CAPACITY", 2)
    built = _counting_context_builds(monkeypatch)

    async def main() -> list[Any]:
        async with EmbeddedHost(BASIC_APP, tmp_path / "data") as host:
            ids = [await host.start_new("sequence", {"steps": 3}, instance_id=f"s{i}") for i in range(6)]
            statuses = [await host.wait_for_completion(iid, 20) for iid in ids]
            return [status and status["output"] for status in statuses]

    assert asyncio.run(main()) == [[1, 2, 3]] * 6
    assert len(built) > 6  # six runs in flight, two kept: the others were replayed again


def test_a_session_is_given_up_with_its_execution() -> None:
    pool = SessionPool(capacity=2)

    def orchestrator(context: Any) -> Any:
        yield None

    def registered(context: Any) -> str:
        return ""

    registered.orchestrator_function = orchestrator
    first = pool.get("a", "exec-1", registered)
    assert first is not None and pool.get("a", "exec-1", registered) is first
    assert pool.get("a", "exec-2", registered) is not first  # continued as new: a fresh executor
    pool.get("b", "exec-1", registered)
    pool.get("c", "exec-1", registered)
    assert len(pool) == 2  # "a", the least recently used, was given up
    pool.drop("b")
    assert len(pool) == 1
    assert SessionPool(capacity=0).get("a", "exec-1", registered) is None
    assert pool.get("d", "exec-1", lambda context: "") is None  # not registered through the SDK


def test_the_orchestrator_sees_is_replaying_false_once_per_step_as_in_the_live_part_of_each_full_replay() -> None:
    """Apps log only when not replaying; a kept executor runs each step once, as the live end of each full
    replay would, and must say so (not replaying) each time."""
    import azure.durable_functions as df

    from embedded_host.durable.episode import handle_of
    from embedded_host.durable.sessions import session_for
    from tests.durable_replay import ReplayDriver

    seen: list[tuple[str, bool]] = []
    app = df.DFApp()

    @app.orchestration_trigger(context_name="context")
    def steps(context: df.DurableOrchestrationContext):
        seen.append(("start", context.is_replaying))
        first = yield context.call_activity("add_one", 1)
        seen.append(("after the first", context.is_replaying))
        second = yield context.call_activity("add_one", first)
        seen.append(("after the second", context.is_replaying))
        return second

    func = app.get_functions()[0].get_user_function()
    activities = {"add_one": lambda value: value + 1}
    replayed = ReplayDriver(handle_of(func, "context"), activities).run("steps", None)
    live = [entry for entry in seen if not entry[1]]
    assert len(seen) == 6 and live == [("start", False), ("after the first", False), ("after the second", False)]
    seen.clear()
    kept = ReplayDriver(handle_of(func, "context"), activities, session=session_for(func)).run("steps", None)
    assert seen == live
    assert kept.output == replayed.output == 3
    assert [e["EventType"] for e in kept.history] == [e["EventType"] for e in replayed.history]
