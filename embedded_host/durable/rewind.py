"""Rewind of a failed instance: which history events are undone and what has to run again.

As the Durable Task Framework rewinds (Azure Storage provider): the failures in the history
(``TaskFailed``, ``SubOrchestrationInstanceFailed``) and the failed ``ExecutionCompleted`` become
``GenericEvent``s that keep the original as data, so the SDK no longer sees them; the instance runs again; failed
activities are scheduled again under their old task ids, and a failed child is rewound the same way.

What has to run again is found by replaying the rewritten history from scratch through the orchestrator (the
same replay core as every episode): every task it has asked for that has no completion left in the history
(the failed ones, and those still in flight when the instance failed, whose work items were dropped then).
The engine carries the plans out, all in one transaction (engine.py, ``rewind``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from embedded_host.durable.actions import EngineState, ScheduledTask, ScheduledTimer
from embedded_host.durable.backends import TimerLimits
from embedded_host.durable.episode import execute, handle_of
from embedded_host.durable.history import (
    EventType,
    HistoryEvent,
    ScheduledEvent,
    SubOrchestrationInstanceCreated,
    completed_task,
    event_id,
    event_type,
    failed_task,
    fired_timer,
    generic_event,
    is_event_sent,
    is_sub_orchestration_created,
    is_task_scheduled,
    load_event,
    sub_orchestration_completed,
)
from embedded_host.durable.store import DurableStore, InstanceRow
from embedded_host.durable.timeutil import iso_utc, now_utc
from embedded_host.functions.loader import FunctionSpec

__all__ = [
    "SCHEDULING",
    "RewindPlan",
    "RewindRefusedError",
    "completed_ids",
    "failed_retries",
    "plan_rewind",
    "rewrite_history",
]

_UNDONE = frozenset(
    {
        EventType.TaskFailed,
        EventType.SubOrchestrationInstanceFailed,
        EventType.ExecutionCompleted,
        EventType.ExecutionFailed,
    }
)
SCHEDULING = frozenset({EventType.TaskScheduled, EventType.TimerCreated, EventType.SubOrchestrationInstanceCreated})


@dataclass(slots=True)
class RewindPlan:
    """What rewinding one instance writes: its rewritten history and what must run again."""

    instance: InstanceRow  # as it failed
    parent: str | None  # the parent instance of a sub-orchestration
    events: list[HistoryEvent]  # the rewritten history
    state: EngineState = field(default_factory=EngineState)
    work: list[ScheduledTask] = field(default_factory=list)
    timers: list[ScheduledTimer] = field(default_factory=list)
    children: list[SubOrchestrationInstanceCreated] = field(default_factory=list)  # to (re)start
    answers: list[HistoryEvent] = field(default_factory=list)  # completions of children that ended after it


class RewindRefusedError(Exception):
    """The instance cannot be rewound by this host (the message says why)."""


def rewrite_history(events: list[HistoryEvent], reason: str | None) -> list[HistoryEvent]:
    """The history with its failures undone (as ``GenericEvent``s carrying the original event)."""
    rewritten: list[HistoryEvent] = []
    for ev in events:
        if event_type(ev) in _UNDONE:
            undone = generic_event(ev["Timestamp"], json.dumps({"Rewound": ev, "Reason": reason}))
            undone["IsPlayed"] = True
            ev = undone
        rewritten.append(ev)
    return rewritten


def completed_ids(events: list[HistoryEvent]) -> set[int]:
    """Task and timer ids whose completion is (still) in the history."""
    done = set()
    for ev in events:
        task_id = completed_task(ev)
        if task_id is None:
            task_id = fired_timer(ev)
        if task_id is not None:
            done.add(task_id)
    return done


def failed_retries(state: EngineState, original: list[HistoryEvent]) -> list[int]:
    """First-attempt ids of ``*_with_retry`` calls that failed at least once before the rewind.

    ``state`` is the from-scratch replay's: it knows every retried call by its first attempt's id. A failed
    attempt made the SDK draw hidden ids (retry timers, later attempts) that a replay without the failure no
    longer draws, so every later id would shift: those instances are not rewound. A retried call that has not
    failed (done, or still to run) is fine.
    """
    failed = {task_id for ev in original if (task_id := failed_task(ev)) is not None}
    return sorted(task_id for task_id in state.retry_tasks if task_id in failed)


def plan_rewind(
    store: DurableStore,
    orchestrators: dict[str, FunctionSpec],
    instance_id: str,
    reason: str | None,
    plans: list[RewindPlan] | None = None,
    *,
    timer_limits: TimerLimits | None = None,
) -> list[RewindPlan]:
    """The plans of the instance and its failed children, children first: replays the rewritten history from
    scratch to learn what must run again (with the backend's ``timer_limits``, as it ran). Reads only."""
    plans = [] if plans is None else plans
    row = store.instance(instance_id)
    assert row is not None  # the caller checked it, or it is a child the parent's history names
    spec = orchestrators.get(row.name)
    if spec is None:
        raise RewindRefusedError(f"The orchestrator function '{row.name}' does not exist in this app.")
    original = [load_event(text) for text in store.history(instance_id)]
    if any(is_event_sent(ev) for ev in original):
        # Operations already sent cannot be taken back, and replaying the rewound history would send them again.
        raise RewindRefusedError(
            f"Rewind of '{instance_id}' is not supported by the embedded host: it has sent entity operations, "
            "which a rewind would send again."
        )
    events = rewrite_history(original, reason)
    link = store.parent_of(instance_id)
    plan = RewindPlan(row, link.instance_id if link else None, events)
    result = execute(
        handle_of(spec.func, spec.trigger_name),
        plan.state,
        name=row.name,
        instance_id=instance_id,
        input_text=row.input,
        old_parts=[],
        new_events=events,
        now=now_utc(),
        parent_instance_id=plan.parent,
        timer_limits=timer_limits,
    )
    if retried := failed_retries(plan.state, original):
        raise RewindRefusedError(
            f"Rewind of '{instance_id}' is not supported by the embedded host: a call_activity_with_retry or "
            f"call_sub_orchestrator_with_retry (task {retried[0]}) has failed attempts, whose retry ids "
            "cannot be replayed back."
        )
    done = completed_ids(events)
    recorded: dict[int, HistoryEvent] = {event_id(ev): ev for ev in events if event_type(ev) in SCHEDULING}
    for ev in result.scheduled:
        task_id = event_id(ev)
        if task_id in done:
            continue
        old = recorded.get(task_id)
        if is_sub_orchestration_created(ev) and old is not None and is_sub_orchestration_created(old):
            _rewind_child(store, orchestrators, old, reason, plans, plan, timer_limits)
            continue
        if old is None:
            plan.events.append(ev)  # taken in the failing episode, never carried out
        _plan_again(instance_id, ev, plan)
    plans.append(plan)
    return plans


def _rewind_child(
    store: DurableStore,
    orchestrators: dict[str, FunctionSpec],
    created: SubOrchestrationInstanceCreated,
    reason: str | None,
    plans: list[RewindPlan],
    plan: RewindPlan,
    timer_limits: TimerLimits | None,
) -> None:
    """A child the failed history had created: rewound if it failed, answered if it finished since, or
    started again if it was terminated (or is gone)."""
    child_id = created["InstanceId"]  # the host names every child it creates (engine.py, _start_child)
    child = store.instance(child_id) if child_id is not None else None
    if child is not None and child.runtime_status == "Failed":
        plan_rewind(store, orchestrators, child.instance_id, reason, plans, timer_limits=timer_limits)
    elif child is not None and child.runtime_status == "Completed":  # finished after the parent had failed
        plan.answers.append(sub_orchestration_completed(iso_utc(now_utc()), event_id(created), child.output))
    elif child is None or child.runtime_status in ("Terminated", "Canceled"):
        plan.children.append(created.copy())


def _plan_again(instance_id: str, ev: ScheduledEvent, plan: RewindPlan) -> None:
    """What must run again for a task the rewound replay asks for and that has no completion."""
    if is_event_sent(ev):
        raise RewindRefusedError(
            f"Rewind of '{instance_id}' is not supported by the embedded host: the rewound orchestrator "
            "sends entity operations that its failed episode never sent."
        )
    if is_sub_orchestration_created(ev):
        plan.children.append(ev)
    elif is_task_scheduled(ev):
        plan.work.append(ScheduledTask(event_id(ev), ev["Name"], ev["Input"]))
    else:
        plan.timers.append(ScheduledTimer(event_id(ev), ev["FireAt"]))
