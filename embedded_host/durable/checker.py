"""Check a recorded history against the current orchestrator code: replays cleanly, diverges, or raises.

Each recorded episode is run again through the replay core (:func:`executor.execute`), exactly as the engine
ran it, and every event the code schedules is compared with the next one the history recorded: the kind
(activity, sub-orchestration, timer or entity message), the task id, the activity's or child orchestrator's
name (and the child's instance id when the code gives one), for timers when it fires, and for entity messages
the target entity, the operation and call-or-signal. That is stricter than the Durable Task Framework, which
compares only kinds and names, because a timer that now fires at another time or an operation sent to
another entity also means the code changed under a running instance. What the code schedules beyond the end of the
recording is new work, not a divergence: an instance in flight would simply go on to do it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from embedded_host.durable.actions import EngineState
from embedded_host.durable.backends import TimerLimits
from embedded_host.durable.episode import OrchestratorHandle, execute
from embedded_host.durable.history import (
    EventSent,
    HistoryEvent,
    event_id,
    event_type,
    is_event_sent,
    is_execution_terminated,
    is_sub_orchestration_created,
    is_task_scheduled,
    is_timer_created,
    orchestrator_started,
)
from embedded_host.durable.recorded import RecordedInstance
from embedded_host.durable.sdk_shortcuts import install_sdk_shortcuts
from embedded_host.durable.timeutil import parse_iso

__all__ = ["FIX_ADVICE", "ReplayReport", "check_recording", "describe_event"]

# Azure's status JSON gives each episode's clock only to within the few milliseconds an episode takes (its
# events are stamped when the episode commits); a real change to a retry timer moves it by far more. The
# embedded host stamps an episode's events with its start, so its histories are compared exactly.
FIRE_AT_TOLERANCE = timedelta(seconds=1)

FIX_ADVICE = (
    "instances in flight would fail (or misbehave) on their next replay: give the changed orchestrator a new "
    "name or version and let the old one drain, or purge those instances before deploying"
)


@dataclass
class ReplayReport:
    """The verdict for one recorded instance."""

    source: str
    outcome: str  # "clean" | "diverged" | "raises" | "error"
    instance_id: str | None = None
    orchestrator: str | None = None
    event_index: int | None = None  # the position in historyEvents where the replay parted
    recorded: str | None = None
    scheduled: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "clean"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    def line(self) -> str:
        who = f"{self.source}: {self.instance_id or '?'}"
        if self.outcome == "clean":
            return f"{who}: replays cleanly" + (f" ({self.message})" if self.message else "")
        if self.outcome == "diverged":
            return (
                f"{who}: diverges at historyEvents[{self.event_index}]: the history recorded "
                f"{self.recorded}, the code {self.scheduled}"
            )
        if self.outcome == "raises":
            where = f" at historyEvents[{self.event_index}]" if self.event_index is not None else ""
            return f"{who}: raises{where}: {self.message}"
        return f"{who}: error: {self.message}"


def describe_event(ev: HistoryEvent | None) -> str:
    """A history event in a few words, for a report line."""
    if ev is None:
        return "nothing more"
    task = f"(task {ev.get('EventId')})"
    if is_task_scheduled(ev):
        return f"activity {ev.get('Name')!r} {task}"
    if is_sub_orchestration_created(ev):
        child = f", instance {ev['InstanceId']!r}" if ev.get("InstanceId") else ""
        return f"sub-orchestration {ev.get('Name')!r}{child} {task}"
    if is_timer_created(ev):
        return f"a timer firing at {ev.get('FireAt')} {task}"
    if is_event_sent(ev):
        operation, signal = _entity_operation(ev)
        return f"entity {'signal' if signal else 'call'} {operation!r} to {ev.get('InstanceId')} {task}"
    return f"event type {event_type(ev)}"


def _entity_operation(ev: EventSent) -> tuple[str | None, bool]:
    """(operation, is a signal) of an ``EventSent``, from its request message."""
    try:
        message = json.loads(str(ev.get("Input")))
    except ValueError:
        return None, False
    if not isinstance(message, dict):
        return None, False
    return message.get("op"), bool(message.get("signal"))


def _same_child_id(recorded: str | None, scheduled: str | None, task_id: Any) -> bool:
    """A child's instance id: the one the code gives must be the one recorded. Without one the host named it
    ``{execution id}:{task id}``, which a replay cannot rebuild (the execution id is not in the status), so
    only its task-id suffix is checked: a recorded id without it was given by the code then, and is no more."""
    if recorded is None:
        return True  # Azure's status JSON does not show a finished child's instance id
    if scheduled is not None:
        return recorded == scheduled
    return recorded.endswith(f":{task_id}")


def _same(recorded: HistoryEvent, scheduled: HistoryEvent, tolerance: timedelta) -> bool:
    if event_type(recorded) != event_type(scheduled) or event_id(recorded) != event_id(scheduled):
        return False
    if is_task_scheduled(recorded) and is_task_scheduled(scheduled):
        return recorded.get("Name") == scheduled.get("Name")
    if is_sub_orchestration_created(recorded) and is_sub_orchestration_created(scheduled):
        return recorded.get("Name") == scheduled.get("Name") and _same_child_id(
            recorded.get("InstanceId"), scheduled.get("InstanceId"), event_id(recorded)
        )
    if is_event_sent(recorded) and is_event_sent(scheduled):
        # the request id differs on every run: it is drawn when the message is sent, then read from history
        return recorded.get("InstanceId") == scheduled.get("InstanceId") and _entity_operation(
            recorded
        ) == _entity_operation(scheduled)
    if not (is_timer_created(recorded) and is_timer_created(scheduled)):
        return True  # the same kind, and not one of those four: nothing more to compare (never scheduled)
    try:
        gap = abs(parse_iso(str(recorded.get("FireAt"))) - parse_iso(str(scheduled.get("FireAt"))))
    except ValueError:
        return recorded.get("FireAt") == scheduled.get("FireAt")
    return gap <= tolerance


def check_recording(
    recording: RecordedInstance,
    handle: OrchestratorHandle,
    *,
    source: str,
    timer_limits: TimerLimits | None = None,
) -> ReplayReport:
    """Replay one recorded instance through ``handle`` (the orchestrator function) and report how it went.

    ``timer_limits``: those of the backend that recorded it (Azure Storage chains long timers; see backends.py).
    """
    install_sdk_shortcuts()
    report = ReplayReport(source, "clean", recording.instance_id, recording.name)
    expected = recording.scheduled
    tolerance = timedelta(0) if recording.clock_exact else FIRE_AT_TOLERANCE
    cursor = 0
    state = EngineState()
    parts: list[str] = []
    for episode in recording.episodes():
        first_index = episode.inputs[0][0]
        if is_execution_terminated(episode.inputs[0][1]):
            break
        new_events = [orchestrator_started(episode.started.isoformat()), *(ev for _, ev in episode.inputs)]
        result = execute(
            handle,
            state,
            name=recording.name,
            instance_id=recording.instance_id,
            input_text=recording.input_text,
            old_parts=parts,
            new_events=new_events,
            now=episode.started,
            parent_instance_id=recording.parent_instance_id,
            timer_limits=timer_limits,
        )
        if result.diverged is not None:
            return _parted(report, first_index, "one path", f"took another: {result.diverged}")
        for produced in result.scheduled:
            if cursor >= len(expected):
                report.message = f"then schedules {describe_event(produced)}, beyond the recording"
                return report
            index, recorded = expected[cursor]
            if not _same(recorded, produced, tolerance):
                return _parted(report, index, describe_event(recorded), f"scheduled {describe_event(produced)}")
            cursor += 1
        if result.status == "Completed" and cursor < len(expected):
            index, recorded = expected[cursor]
            return _parted(report, index, describe_event(recorded), "completed instead")
        if result.status == "Failed":
            if result.sdk_state is None or not recording.ended_failed or cursor < len(expected):
                report.outcome, report.event_index = "raises", first_index
                report.message = str(result.output)
                return report
            return report
        if result.status == "Completed":
            return report
        parts.extend(json.dumps(ev) for ev in new_events)
        # the recorded events this episode matched join the history replayed next, as the host wrote them
        parts.extend(json.dumps(ev) for _, ev in expected[cursor - len(result.scheduled) : cursor])
    if cursor < len(expected):
        index, recorded = expected[cursor]
        return _parted(report, index, describe_event(recorded), "never scheduled it")
    return report


def _parted(report: ReplayReport, index: int, recorded: str, scheduled: str) -> ReplayReport:
    report.outcome, report.event_index = "diverged", index
    report.recorded, report.scheduled = recorded, scheduled
    return report
