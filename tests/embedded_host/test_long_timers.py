"""Long durable timers as the extension makes them on Azure Storage: a chain of shorter timers in history.

The extension tells the Python SDK `maximumShortTimerDuration` 6 d and `longRunningTimerIntervalDuration` 3 d on
Azure Storage (AzureStorageDurabilityProvider), and nothing usable on the Durable Task Scheduler. With them the
SDK turns a 10-day timer into timers at +3 d, +6 d and +10 d; `pipeline replay` of an Azure history with such a
timer diverged while the host sent neither.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import pytest

from cli.replay_command import run_replay
from embedded_host.durable.backends import PROVIDER_TYPE_SETTING, timer_limits
from embedded_host.functions.config import HostConfig
from tests.durable_replay import ReplayDriver

START = datetime(2026, 3, 1, tzinfo=UTC)


def waits_ten_days(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    yield context.create_timer(context.current_utc_datetime + timedelta(days=10))
    return "done"


HANDLE = df.Orchestrator.create(waits_ten_days)


def test_on_azure_storage_a_ten_day_timer_becomes_timers_at_three_six_and_ten_days() -> None:
    outcome = ReplayDriver(HANDLE, {}, start=START, timer_limits=timer_limits("AzureStorage")).run("w", None)
    assert outcome.done and outcome.output == "done"
    # each link is placed from the episode that creates it (the driver moves its clock 5 ms per episode)
    assert [round((t - START).total_seconds() / 86400, 3) for t in outcome.timers] == [3.0, 6.0, 10.0]


def test_on_the_durable_task_scheduler_it_stays_one_timer() -> None:
    outcome = ReplayDriver(HANDLE, {}, start=START, timer_limits=timer_limits("azureManaged")).run("w", None)
    assert outcome.done and outcome.timers == [START + timedelta(days=10)]


def test_the_backend_is_read_as_the_functions_host_reads_it(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}))
    assert HostConfig.load(tmp_path, {}).storage_provider == "AzureStorage"
    assert HostConfig.load(tmp_path, {}).timer_limits is not None
    # this app's infrastructure moves the task hub with an app setting, leaving host.json as it is
    dts = HostConfig.load(tmp_path, {PROVIDER_TYPE_SETTING: "azureManaged"})
    assert dts.storage_provider == "azureManaged" and dts.timer_limits is None
    (tmp_path / "host.json").write_text(
        json.dumps({"extensions": {"durableTask": {"storageProvider": {"type": "azureManaged"}}}})
    )
    assert HostConfig.load(tmp_path, {}).timer_limits is None


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def azure_history_with_a_long_timer() -> dict[str, Any]:
    """A run of `waits_ten_days` as Azure's status API returns it from an Azure Storage task hub (no ids)."""
    t0 = START + timedelta(milliseconds=200)  # the first episode's clock
    fired_1 = START + timedelta(days=3, seconds=1)
    fired_2 = START + timedelta(days=6, seconds=2)
    final = t0 + timedelta(days=10)
    events = [
        {"EventType": "ExecutionStarted", "Timestamp": _stamp(START), "FunctionName": "waits_ten_days"},
        {"EventType": "TimerCreated", "Timestamp": _stamp(t0), "FireAt": _stamp(t0 + timedelta(days=3))},
        {"EventType": "TimerFired", "Timestamp": _stamp(fired_1), "FireAt": _stamp(t0 + timedelta(days=3))},
        {"EventType": "TimerCreated", "Timestamp": _stamp(fired_1), "FireAt": _stamp(fired_1 + timedelta(days=3))},
        {"EventType": "TimerFired", "Timestamp": _stamp(fired_2), "FireAt": _stamp(fired_1 + timedelta(days=3))},
        {"EventType": "TimerCreated", "Timestamp": _stamp(fired_2), "FireAt": _stamp(final)},
        {"EventType": "TimerFired", "Timestamp": _stamp(final + timedelta(seconds=1)), "FireAt": _stamp(final)},
        {
            "EventType": "ExecutionCompleted",
            "Timestamp": _stamp(final + timedelta(seconds=1)),
            "OrchestrationStatus": "Completed",
            "Result": "done",
        },
    ]
    return {"name": "waits_ten_days", "instanceId": "long-1", "runtimeStatus": "Completed", "historyEvents": events}


@pytest.fixture
def long_timer_app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "host.json").write_text(json.dumps({"version": "2.0"}))
    (app / "function_app.py").write_text(
        textwrap.dedent(
            """
            from datetime import timedelta

            import azure.durable_functions as df

            app = df.DFApp()


            @app.orchestration_trigger(context_name="context")
            def waits_ten_days(context: df.DurableOrchestrationContext):
                yield context.create_timer(context.current_utc_datetime + timedelta(days=10))
                return "done"
            """
        )
    )
    return app


def test_pipeline_replay_of_an_azure_storage_history_with_a_long_timer_is_clean(
    long_timer_app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PROVIDER_TYPE_SETTING, raising=False)
    history = tmp_path / "long-1.json"
    history.write_text(json.dumps(azure_history_with_a_long_timer()))

    code = run_replay([history], app_dir=long_timer_app, as_json=True)

    report = json.loads(capsys.readouterr().out)["instances"][0]
    assert (code, report["outcome"]) == (0, "clean"), report


def test_pipeline_replay_checks_against_the_durable_task_scheduler_when_the_app_setting_says_so(
    long_timer_app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROVIDER_TYPE_SETTING, "azureManaged")
    history = tmp_path / "long-1.json"
    history.write_text(json.dumps(azure_history_with_a_long_timer()))

    code = run_replay([history], app_dir=long_timer_app, as_json=True)

    report = json.loads(capsys.readouterr().out)["instances"][0]
    # on DTS the code schedules one 10-day timer, where this Azure Storage history has a 3-day link
    assert (code, report["outcome"], report["event_index"]) == (1, "diverged", 1), report
