"""One orchestrator episode replayed (the replay core): from (history so far, new events) to what history gains next.

Everything that replays an orchestration goes through :func:`execute`: the engine for every live episode,
the history checker behind ``pipeline replay``, and the tests' in-process driver. It calls the app's own
orchestrator function (the Durable SDK) with the context JSON the extension sends, does the host's retry
bookkeeping for ``CallActivityWithRetry``, checks the actions against what was already recorded
(:func:`plan_actions`) and answers with the history events the episode schedules (``TaskScheduled``,
``TimerCreated``, with their ids) and the outcome. It does no I/O: the caller decides whether those events
become work items and timers (the engine), get compared with a recording (the checker), or run at once
(the tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from embedded_host.durable.actions import (
    SIGNAL_ENTITY,
    EngineState,
    NonDeterminismError,
    UnsupportedActionError,
    plan_actions,
)
from embedded_host.durable.backends import TimerLimits
from embedded_host.durable.entity_protocol import event_sent
from embedded_host.durable.history import (
    HistoryEvent,
    ScheduledEvent,
    completed_task,
    event_id,
    failed_task,
    fired_timer,
    sub_orchestration_created,
    task_scheduled,
    timer_created,
)
from embedded_host.durable.sessions import Session
from embedded_host.durable.timeutil import iso_utc

__all__ = ["Episode", "OrchestratorHandle", "call_orchestrator", "execute", "handle_of"]

# The orchestrator function as the worker calls it: context JSON in, the SDK's state JSON out.
OrchestratorHandle = Callable[[str], str]

_OUT_OF_PROC = "$OutOfProcData$:"


def handle_of(func: Callable[..., str], trigger_name: str) -> OrchestratorHandle:
    """An app's orchestrator function as the core calls it (the context goes to its trigger parameter)."""
    return lambda context: func(**{trigger_name: context})


@dataclass
class Episode:
    """What one episode produced."""

    scheduled: list[ScheduledEvent] = field(default_factory=list)  # in task-id order
    status: str | None = None  # None (still running), "Completed" or "Failed"
    output: Any = None  # the result when Completed, the failure message when Failed
    custom_status: Any = None
    continue_as_new: dict[str, Any] | None = None
    diverged: NonDeterminismError | None = None  # set when the actions contradict the recorded ones
    sdk_state: dict[str, Any] | None = None


def call_orchestrator(
    handle: OrchestratorHandle,
    *,
    name: str,
    instance_id: str,
    input_text: str | None,
    history: str,
    replaying: bool = False,
    parent_instance_id: str | None = None,
    timer_limits: TimerLimits | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """Run the SDK over ``history`` (the JSON text of the event list); returns (state, user error).

    When user code raises, the SDK raises too, with its state JSON after a marker: that state still holds the
    actions taken before the failure, which the host must carry out or compare like any other.
    ``timer_limits``: the backend's long-timer settings, which make the SDK chain a longer timer (see backends.py).
    """
    limits = (
        "".join(f",{json.dumps(k)}:{json.dumps(v)}" for k, v in timer_limits.context_fields().items())
        if timer_limits
        else ""
    )
    context = (
        '{"history":'
        + history
        + ',"input":'
        + json.dumps(input_text)
        + ',"instanceId":'
        + json.dumps(instance_id)
        + ',"isReplaying":'
        + ("true" if replaying else "false")
        + ',"parentInstanceId":'
        + json.dumps(parent_instance_id)
        + ","
        '"upperSchemaVersion":2,"upperSchemaVersionNew":2' + limits + "}"
    )
    return sdk_state_of(lambda: handle(context), name)


def sdk_state_of(run: Callable[[], str], name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The SDK's answer to one episode as (state, user error): see :func:`call_orchestrator`."""
    try:
        return json.loads(run()), None
    except Exception as exc:
        message = str(exc)
        if _OUT_OF_PROC in message:
            head, _, data = message.partition(_OUT_OF_PROC)
            try:
                state = json.loads(data)
            except ValueError:
                return None, head.strip()
            return state, state.get("error") or head.strip()
        return None, f"Orchestrator function '{name}' failed: {type(exc).__name__}: {exc}"


def execute(
    handle: OrchestratorHandle,
    state: EngineState,
    *,
    name: str,
    instance_id: str,
    input_text: str | None,
    old_parts: list[str],
    new_events: list[HistoryEvent],
    now: datetime,
    parent_instance_id: str | None = None,
    timer_limits: TimerLimits | None = None,
    session: Session | None = None,
) -> Episode:
    """Replay ``old_parts`` (events as JSON text) + ``new_events`` and say what the episode adds.

    ``state`` is the host's id counter and record of actions taken; it is updated in place. ``now`` stamps
    the scheduled events and places retry timers (the episode's ``OrchestratorStarted`` time). ``session``:
    the instance's kept SDK executor (sessions.py), fed only what is new when it can be, else a full replay
    that it keeps.
    """
    if session is not None and session.can_resume(old_parts):
        sdk_state, error = sdk_state_of(lambda: session.resume(old_parts, new_events), name)
    else:
        sdk_state, error = call_orchestrator(
            session.replay if session is not None else handle,  # a session keeps what the replay builds
            name=name,
            instance_id=instance_id,
            input_text=input_text,
            history="[" + ",".join(old_parts + [json.dumps(ev) for ev in new_events]) + "]",
            replaying=bool(old_parts),
            parent_instance_id=parent_instance_id,
            timer_limits=timer_limits,
        )
    episode = Episode(sdk_state=sdk_state)
    if sdk_state is None:
        episode.status, episode.output = "Failed", error
        return episode
    episode.custom_status = sdk_state.get("customStatus")
    stamp = iso_utc(now)
    try:
        episode.scheduled.extend(_retry_followups(state, new_events, stamp, now))
        plan = plan_actions(state, sdk_state.get("actions"))
    except NonDeterminismError as exc:
        episode.diverged = exc
        episode.status, episode.output = "Failed", str(exc)
        return episode
    except UnsupportedActionError as exc:
        episode.status, episode.output = "Failed", str(exc)
        return episode
    if error is not None:
        episode.status, episode.output = "Failed", f"Orchestrator function '{name}' failed: {error}"
        return episode
    for task_id, action in plan.entity_messages:
        episode.scheduled.append(
            event_sent(
                task_id, action, instance_id=instance_id, stamp=stamp, signal=action.get("actionType") == SIGNAL_ENTITY
            )
        )
    if plan.continue_as_new is not None:
        episode.continue_as_new = plan.continue_as_new
        return episode
    for task_id, activity, raw_input in plan.activities:
        episode.scheduled.append(task_scheduled(stamp, task_id, activity, raw_input))
    for task_id, orchestrator, raw_input, child_id in plan.sub_orchestrations:
        # InstanceId None: the host names the child (it knows the execution id the default is made from).
        episode.scheduled.append(sub_orchestration_created(stamp, task_id, orchestrator, child_id, raw_input))
    for timer_id, fire_at in plan.timers:
        episode.scheduled.append(timer_created(stamp, timer_id, fire_at))
    episode.scheduled.sort(key=event_id)
    if sdk_state.get("isDone"):
        episode.status, episode.output = "Completed", sdk_state.get("output")
    return episode


def _retry_followups(
    state: EngineState, new_events: list[HistoryEvent], stamp: str, now: datetime
) -> list[ScheduledEvent]:
    """What DTFx's retry interceptor adds for ``CallActivityWithRetry`` and ``CallSubOrchestratorWithRetry``.

    A failed attempt with attempts left: a timer; when it fires, the next attempt (a new child for a
    sub-orchestration). After the last attempt
    one more timer, then the SDK throws the failure (the event order the SDK expects).
    """
    added: list[ScheduledEvent] = []
    if not state.retry_tasks and not state.retry_timers:
        return added  # no retried call in flight: nothing to do (the common case, kept cheap)
    for ev in new_events:
        if (done := completed_task(ev)) is not None:
            state.retry_tasks.pop(done, None)
        elif (failed := failed_task(ev)) is not None and failed in state.retry_tasks:
            chain = state.retry_tasks.pop(failed)
            timer_id = state.next_id
            state.next_id += 1
            state.retry_timers[timer_id] = chain
            fire_at = iso_utc(now + timedelta(milliseconds=chain.first_ms))
            added.append(timer_created(stamp, timer_id, fire_at))
        elif (fired := fired_timer(ev)) is not None and fired in state.retry_timers:
            chain = state.retry_timers.pop(fired)
            if chain.attempt < chain.max_attempts:
                task_id = state.next_id
                state.next_id += 1
                chain.attempt += 1
                state.retry_tasks[task_id] = chain
                if chain.sub_orchestration:
                    added.append(sub_orchestration_created(stamp, task_id, chain.name, chain.instance_id, chain.input))
                else:
                    added.append(task_scheduled(stamp, task_id, chain.name, chain.input))
    return added
