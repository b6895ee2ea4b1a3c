"""A small history driver: runs an orchestrator the way the Durable extension does, in-process.

Each episode hands the SDK the whole history as JSON (the same shape the extension sends),
reads back the actions, runs new activities synchronously and records their outcomes as
TaskCompleted/TaskFailed, fires timers at once, and repeats until the orchestrator is done.
It supports what the pipeline uses (CallActivity and CreateTimer) and nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.durable_functions.models.history import HistoryEventType as E


def extension_failure(name: str, exc: BaseException) -> dict[str, str]:
    """TaskFailed fields as the Durable extension's `TaskActivityShim` writes them for a Python activity.

    Reason is `Activity function '<name>' failed: <message>`, the message being the worker's
    RpcException text (result, exception, stack); Details is that exception serialised as JSON,
    so the message appears a second time there, JSON-escaped.
    """
    message = f'Result: Failure\nException: {type(exc).__name__}: {exc}\nStack:   File "/home/site/wwwroot/x.py"'
    details = {
        "$type": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",
        "ClassName": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException",
        "Message": message,
        "RemoteStackTrace": f'  File "/home/site/wwwroot/{name}.py", line 1',
        "HResult": -2146233088,
    }
    return {"Reason": f"Activity function '{name}' failed: {message}", "Details": json.dumps(details)}


def simple_failure(name: str, exc: BaseException) -> dict[str, str]:
    return {"Reason": str(exc), "Details": "Traceback ..."}


def _ts(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class Outcome:
    done: bool
    output: Any
    error: str | None
    custom_status: Any
    history: list[dict[str, Any]]
    calls: list[tuple[str, Any]] = field(default_factory=list)
    timers: list[datetime] = field(default_factory=list)

    def history_bytes(self) -> int:
        return len(json.dumps(self.history).encode())


class ReplayDriver:
    def __init__(
        self,
        handle: Callable[[str], str],
        activities: dict[str, Callable[[Any], Any]],
        *,
        instance_id: str = "test-instance",
        start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
        failure: Callable[[str, BaseException], dict[str, str]] = simple_failure,
    ) -> None:
        self.failure = failure
        self.handle = handle
        self.activities = activities
        self.instance_id = instance_id
        self.now = start
        self.episodes = 0

    def _event(self, kind: E, event_id: int = -1, **fields: Any) -> dict[str, Any]:
        return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False, "Timestamp": _ts(self.now), **fields}

    def run(self, name: str, input_: Any, *, max_episodes: int = 100) -> Outcome:
        history: list[dict[str, Any]] = []
        self.input_json = json.dumps(input_)
        pending = [
            self._event(E.ORCHESTRATOR_STARTED),
            self._event(
                E.EXECUTION_STARTED,
                Name=name,
                Version="",
                Input=json.dumps(input_),
                OrchestrationInstance={"InstanceId": self.instance_id, "ExecutionId": "e1"},
            ),
        ]
        outcome = Outcome(False, None, None, None, history)
        scheduled = 0
        for _ in range(max_episodes):
            self.episodes += 1
            for event in history:
                event["IsPlayed"] = True
            history.extend(pending)
            pending = []
            state = self._call(history)
            outcome.custom_status = state.get("customStatus")
            actions = [a for group in state.get("actions", []) for a in group]
            for seq, action in enumerate(actions[scheduled:], start=scheduled):
                pending_result = self._perform(action, seq, history, outcome)
                pending.extend(pending_result)
            scheduled = len(actions)
            history.append(self._event(E.ORCHESTRATOR_COMPLETED))
            if state.get("isDone"):
                outcome.done, outcome.output = True, state.get("output")
                history.append(
                    self._event(E.EXECUTION_COMPLETED, OrchestrationStatus=1, Result=json.dumps(outcome.output))
                )
                return outcome
            if state.get("error"):
                outcome.error = state["error"]
                return outcome
            if not pending:
                raise AssertionError("orchestrator is waiting on nothing")
            self.now += timedelta(milliseconds=5)
            pending.insert(0, self._event(E.ORCHESTRATOR_STARTED))
        raise AssertionError("orchestrator did not finish")

    def _call(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        body = json.dumps(
            {
                "history": history,
                "input": self.input_json,
                "instanceId": self.instance_id,
                "isReplaying": False,
                "parentInstanceId": None,
                "upperSchemaVersion": 2,
                "upperSchemaVersionNew": 2,
            }
        )
        try:
            return json.loads(self.handle(body))
        except Exception as exc:  # user code raised: the SDK appends its state after a marker
            text = str(exc)
            marker = "$OutOfProcData$:"
            if marker not in text:
                raise
            state = json.loads(text.split(marker, 1)[1])
            state.setdefault("error", text.split(marker, 1)[0])
            return state

    def _perform(self, action: dict[str, Any], seq: int, history: list, outcome: Outcome) -> list[dict[str, Any]]:
        kind = action["actionType"]
        if kind == 0:  # CallActivity
            name, raw = action["functionName"], action.get("input")
            history.append(self._event(E.TASK_SCHEDULED, seq, Name=name, Input=raw))
            payload = json.loads(raw) if isinstance(raw, str) else raw
            outcome.calls.append((name, payload))
            try:
                result = self.activities[name](payload)
            except Exception as exc:
                return [self._event(E.TASK_FAILED, TaskScheduledId=seq, **self.failure(name, exc))]
            return [self._event(E.TASK_COMPLETED, TaskScheduledId=seq, Result=json.dumps(result))]
        if kind == 5:  # CreateTimer
            fire_at = action["fireAt"]
            history.append(self._event(E.TIMER_CREATED, seq, FireAt=fire_at))
            outcome.timers.append(datetime.fromisoformat(fire_at.replace("Z", "+00:00")))
            self.now = max(self.now, outcome.timers[-1])
            return [self._event(E.TIMER_FIRED, TimerId=seq, FireAt=fire_at)]
        raise AssertionError(f"action type {kind} is not supported by this driver")
