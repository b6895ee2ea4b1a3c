"""Rewind of a failed instance: which history events are undone and what has to run again.

As the Durable Task Framework rewinds (Azure Storage provider): the failures in the history
(``TaskFailed``, ``SubOrchestrationInstanceFailed``) and the failed ``ExecutionCompleted`` become
``GenericEvent``s that keep the original as data, so the SDK no longer sees them; the instance runs again; failed
activities are scheduled again under their old task ids, and a failed child is rewound the same way.

What has to run again is found by replaying the rewritten history from scratch through the orchestrator (the
same replay core as every episode): every task it has asked for that has no completion left in the history
(the failed ones, and those still in flight when the instance failed, whose work items were dropped then).
The engine carries that out (engine.py, ``rewind``).
"""

from __future__ import annotations

import json
from typing import Any

from .history import EventType, event
from .replay import EngineState

__all__ = ["SCHEDULING", "RewindPlan", "RewindRefusedError", "completed_ids", "failed_retries", "rewrite_history"]

_UNDONE = frozenset(
    {
        EventType.TASK_FAILED,
        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        EventType.EXECUTION_COMPLETED,
        EventType.EXECUTION_FAILED,
    }
)
_FAILURES = frozenset({EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_INSTANCE_FAILED})
_DONE = {
    EventType.TASK_COMPLETED: "TaskScheduledId",
    EventType.TIMER_FIRED: "TimerId",
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: "TaskScheduledId",
}
SCHEDULING = frozenset(
    {EventType.TASK_SCHEDULED, EventType.TIMER_CREATED, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED}
)


class RewindPlan:
    """What rewinding one instance writes: its rewritten history and what must run again."""

    def __init__(
        self,
        instance_id: str,
        name: str,
        execution_id: str,
        input_text: str | None,
        custom: str | None,
        parent: str | None,
        events: list[dict[str, Any]],
    ) -> None:
        self.instance_id, self.name, self.execution_id = instance_id, name, execution_id
        self.input, self.custom, self.parent = input_text, custom, parent
        self.events = events
        self.state = EngineState()
        self.work: list[tuple[int, str, str | None]] = []
        self.timers: list[tuple[int, str]] = []
        self.children: list[dict[str, Any]] = []  # SubOrchestrationInstanceCreated events to (re)start
        self.answers: list[dict[str, Any]] = []  # completions of children that finished after the failure


class RewindRefusedError(Exception):
    """The instance cannot be rewound by this host (the message says why)."""


def rewrite_history(events: list[dict[str, Any]], reason: str | None) -> list[dict[str, Any]]:
    """The history with its failures undone (as ``GenericEvent``s carrying the original event)."""
    rewritten = []
    for ev in events:
        if ev.get("EventType") in _UNDONE:
            data = json.dumps({"Rewound": ev, "Reason": reason})
            ev = event(EventType.GENERIC_EVENT, ev.get("Timestamp", ""), Data=data)
            ev["IsPlayed"] = True
        rewritten.append(ev)
    return rewritten


def completed_ids(events: list[dict[str, Any]]) -> set[int]:
    """Task and timer ids whose completion is (still) in the history."""
    return {int(ev[key]) for ev in events if (key := _DONE.get(ev.get("EventType", -1))) and key in ev}


def failed_retries(state: EngineState, original: list[dict[str, Any]]) -> list[int]:
    """First-attempt ids of ``*_with_retry`` calls that failed at least once before the rewind.

    ``state`` is the from-scratch replay's: it knows every retried call by its first attempt's id. A failed
    attempt made the SDK draw hidden ids (retry timers, later attempts) that a replay without the failure no
    longer draws, so every later id would shift: those instances are not rewound. A retried call that has not
    failed (done, or still to run) is fine.
    """
    failed = {ev.get("TaskScheduledId") for ev in original if ev.get("EventType") in _FAILURES}
    return sorted(task_id for task_id in state.retry_tasks if task_id in failed)
