"""Run an orchestrator in-process through the embedded host's replay core, activities called at once.

Each episode goes through `embedded_host.durable.episode.execute`, the same function the engine and
`pipeline replay` use; this driver only supplies what the engine would get from the outside world:
it runs each scheduled activity synchronously (its result or failure becomes the next episode's
TaskCompleted/TaskFailed), fires each timer at once (moving its clock to the fire time), and repeats
until the orchestrator is done.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from embedded_host.durable.actions import EngineState
from embedded_host.durable.backends import TimerLimits
from embedded_host.durable.episode import OrchestratorHandle, call_orchestrator, execute
from embedded_host.durable.history import (
    EventType,
    HistoryEvent,
    ScheduledEvent,
    is_timer_created,
    orchestrator_completed,
    orchestrator_started,
    task_completed,
    task_failed,
    timer_fired,
)
from embedded_host.durable.sessions import Session


def extension_failure(name: str, exc: BaseException) -> dict[str, Any]:
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


def simple_failure(name: str, exc: BaseException) -> dict[str, Any]:
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
        handle: OrchestratorHandle,
        activities: dict[str, Callable[[Any], Any]],
        *,
        instance_id: str = "test-instance",
        start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
        failure: Callable[[str, BaseException], dict[str, Any]] = simple_failure,
        timer_limits: TimerLimits | None = None,
        session: Session | None = None,
    ) -> None:
        self.session = session  # the engine's kept executor (sessions.py); None: every episode replays
        self.failure = failure
        self.timer_limits = timer_limits
        self.handle = handle
        self.activities = activities
        self.instance_id = instance_id
        self.now = start
        self.episodes = 0
        self.input_text: str | None = None

    def run(self, name: str, input_: Any, *, max_episodes: int = 100) -> Outcome:
        input_text = self.input_text = json.dumps(input_)
        state = EngineState()
        parts: list[str] = []
        outcome = Outcome(False, None, None, None, [])
        started = {  # an ExecutionStarted as the SDK needs it (no ParentInstance, no Generation)
            "EventType": EventType.ExecutionStarted,
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": _ts(self.now),
            "Name": name,
            "Version": "",
            "Input": input_text,
            "OrchestrationInstance": {"InstanceId": self.instance_id, "ExecutionId": "e1"},
        }
        pending: list[Any] = [started]
        for _ in range(max_episodes):
            self.episodes += 1
            new_events: list[HistoryEvent] = [orchestrator_started(_ts(self.now)), *pending]
            episode = execute(
                self.handle,
                state,
                name=name,
                instance_id=self.instance_id,
                input_text=input_text,
                old_parts=parts,
                new_events=new_events,
                now=self.now,
                timer_limits=self.timer_limits,
                session=self.session,
            )
            outcome.custom_status = episode.custom_status
            pending = [self._perform(ev, outcome) for ev in episode.scheduled] if episode.status is None else []
            appended = [*new_events, *episode.scheduled, orchestrator_completed(_ts(self.now))]
            for ev in appended:
                ev["IsPlayed"] = True
            outcome.history.extend(appended)
            parts.extend(json.dumps(ev) for ev in appended)
            if episode.status == "Completed":
                outcome.done, outcome.output = True, episode.output
                outcome.history.append(
                    {
                        "EventType": EventType.ExecutionCompleted,  # the status as the SDK's number
                        "EventId": -1,
                        "IsPlayed": False,
                        "Timestamp": _ts(self.now),
                        "OrchestrationStatus": 1,
                        "Result": json.dumps(episode.output),
                    }
                )
                return outcome
            if episode.status == "Failed":
                outcome.error = str(episode.output)
                return outcome
            if not pending:
                raise AssertionError("orchestrator is waiting on nothing")
            self.now += timedelta(milliseconds=5)
        raise AssertionError("orchestrator did not finish")

    def replay(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        """The SDK's answer to a whole recorded history of the last run, as on a later replay."""
        state, error = call_orchestrator(
            self.handle,
            name="",
            instance_id=self.instance_id,
            input_text=self.input_text,
            history=json.dumps(history),
            replaying=True,
        )
        if state is None:
            raise AssertionError(error)
        return state

    def _perform(self, scheduled: ScheduledEvent, outcome: Outcome) -> Any:
        """Carry out one scheduled event now; returns the event that reports its outcome."""
        task_id = scheduled["EventId"]
        if is_timer_created(scheduled):
            fire_at = scheduled["FireAt"]
            outcome.timers.append(datetime.fromisoformat(fire_at.replace("Z", "+00:00")))
            self.now = max(self.now, outcome.timers[-1])
            return timer_fired(_ts(self.now), task_id, fire_at)
        name, raw = scheduled["Name"], scheduled.get("Input")
        payload = json.loads(raw) if isinstance(raw, str) else raw
        outcome.calls.append((name, payload))
        try:
            result = self.activities[name](payload)
        except Exception as exc:
            # the failure hook gives Reason and Details, or the fields another backend writes instead
            return {**task_failed(_ts(self.now), task_id, "", None), **self.failure(name, exc)}
        return task_completed(_ts(self.now), task_id, json.dumps(result))
