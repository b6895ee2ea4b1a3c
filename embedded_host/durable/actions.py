"""What an orchestrator episode's actions mean for the host: new tasks, timers, retries, non-determinism.

The SDK answers each episode with the full list of actions the orchestrator has taken since it started
(schema V2+: one flat list, ``WhenAll``/``WhenAny`` nesting their children). Task ids are a creation-order
counter shared by activities and timers, and the SDK also draws ids for the hidden retry timers and
re-scheduled attempts of ``CallActivityWithRetry``. The host keeps the same counter here (``next_id``), records
each leaf action it has already carried out, and compares a replay against that record position by position:
a different action type or name at a recorded position is non-determinism, as DTFx reports it.

To keep both counters in step, an event that makes the SDK draw a hidden retry id (a retried attempt's
``TaskFailed``, a retry timer's ``TimerFired``) is always replayed in an episode of its own: then the hidden
id is drawn before any action that episode creates, and the host knows exactly which id it got.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from embedded_host.durable.durable_http import HTTP_ACTIVITY
from embedded_host.durable.history import HistoryEvent, failed_task, fired_timer

__all__ = [
    "ActionPlan",
    "EngineState",
    "EntityMessage",
    "NonDeterminismError",
    "RetryChain",
    "ScheduledChild",
    "ScheduledTask",
    "ScheduledTimer",
    "UnsupportedActionError",
    "flatten_actions",
    "plan_actions",
]

CALL_ACTIVITY = 0
CALL_ACTIVITY_WITH_RETRY = 1
CALL_SUB_ORCHESTRATOR = 2
CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
CONTINUE_AS_NEW = 4
CREATE_TIMER = 5
CALL_HTTP = 8
WAIT_FOR_EXTERNAL_EVENT = 6
WHEN_ANY = 11
WHEN_ALL = 12
CALL_ENTITY = 7
SIGNAL_ENTITY = 9

_ACTION_NAMES = {
    0: "CallActivity",
    1: "CallActivityWithRetry",
    2: "CallSubOrchestrator",
    3: "CallSubOrchestratorWithRetry",
    4: "ContinueAsNew",
    5: "CreateTimer",
    6: "WaitForExternalEvent",
    7: "CallEntity",
    8: "CallHttp",
    9: "SignalEntity",
}


class NonDeterminismError(Exception):
    """A replay took a different path than the recorded history."""


class UnsupportedActionError(Exception):
    """The orchestrator asked for something this host does not implement."""


@dataclass
class RetryChain:
    """The attempts of one ``CallActivityWithRetry`` or ``CallSubOrchestratorWithRetry``."""

    name: str
    input: str | None
    first_ms: int
    max_attempts: int
    attempt: int = 1
    # Set for a sub-orchestration chain: every attempt creates a child (``instance_id`` None = a new default id).
    sub_orchestration: bool = False
    instance_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input": self.input,
            "first_ms": self.first_ms,
            "max_attempts": self.max_attempts,
            "attempt": self.attempt,
            "sub_orchestration": self.sub_orchestration,
            "instance_id": self.instance_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetryChain:
        return cls(**data)


@dataclass
class EngineState:
    """The host's side of an instance's replay bookkeeping (persisted with the instance)."""

    next_id: int = 0
    leaves: list[tuple[int, str | None]] = field(default_factory=list)
    retry_tasks: dict[int, RetryChain] = field(default_factory=dict)
    retry_timers: dict[int, RetryChain] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "next_id": self.next_id,
            "leaves": [list(leaf) for leaf in self.leaves],
            "retry_tasks": {str(k): v.to_json() for k, v in self.retry_tasks.items()},
            "retry_timers": {str(k): v.to_json() for k, v in self.retry_timers.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineState:
        return cls(
            next_id=int(data.get("next_id", 0)),
            leaves=[(int(t), n) for t, n in data.get("leaves", [])],
            retry_tasks={int(k): RetryChain.from_json(v) for k, v in data.get("retry_tasks", {}).items()},
            retry_timers={int(k): RetryChain.from_json(v) for k, v in data.get("retry_timers", {}).items()},
        )

    def is_retry_event(self, ev: HistoryEvent) -> bool:
        """Whether replaying ``ev`` makes the SDK draw a hidden retry id (so it needs an episode alone)."""
        if not self.retry_tasks and not self.retry_timers:
            return False  # the common case, decided without reading the event
        if (task_id := failed_task(ev)) is not None:
            return task_id in self.retry_tasks
        return (timer_id := fired_timer(ev)) is not None and timer_id in self.retry_timers


class ScheduledTask(NamedTuple):
    """An activity call the orchestrator asked for, under its task id."""

    task_id: int
    name: str
    input: str | None


class ScheduledChild(NamedTuple):
    """A sub-orchestration the orchestrator asked for; ``instance_id`` as given (None: the host names it)."""

    task_id: int
    name: str
    input: str | None
    instance_id: str | None


class ScheduledTimer(NamedTuple):
    """A durable timer the orchestrator asked for (``fire_at`` as the SDK wrote it)."""

    timer_id: int
    fire_at: str


class EntityMessage(NamedTuple):
    """A call or signal to an entity, under the id it draws."""

    task_id: int
    action: dict[str, Any]


@dataclass
class ActionPlan:
    """What to do after an episode: new tasks, children, timers and entity messages, and continue-as-new."""

    activities: list[ScheduledTask] = field(default_factory=list)
    sub_orchestrations: list[ScheduledChild] = field(default_factory=list)
    timers: list[ScheduledTimer] = field(default_factory=list)
    continue_as_new: dict[str, Any] | None = None
    entity_messages: list[EntityMessage] = field(default_factory=list)


def flatten_actions(actions: Any) -> list[dict[str, Any]]:
    """Leaf actions in creation order (compound actions contribute their children)."""
    leaves: list[dict[str, Any]] = []

    def walk(action: Any) -> None:
        if isinstance(action, list):
            for item in action:
                walk(item)
            return
        if not isinstance(action, dict):
            return
        if action.get("actionType") in (WHEN_ANY, WHEN_ALL):
            walk(action.get("compoundActions") or [])
        else:
            leaves.append(action)

    walk(actions or [])
    return leaves


def _leaf_key(action: dict[str, Any]) -> tuple[int, str | None]:
    atype = int(action.get("actionType", -1))
    if atype in (CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY, CALL_SUB_ORCHESTRATOR, CALL_SUB_ORCHESTRATOR_WITH_RETRY):
        return atype, action.get("functionName")
    if atype == WAIT_FOR_EXTERNAL_EVENT:
        return atype, action.get("externalEventName")
    return atype, None


def _describe(key: tuple[int, str | None]) -> str:
    name = _ACTION_NAMES.get(key[0], f"action type {key[0]}")
    return f"{name}({key[1]!r})" if key[1] is not None else name


def plan_actions(state: EngineState, actions: Any) -> ActionPlan:
    """Check replayed actions against the record and turn new ones into tasks and timers (mutates ``state``)."""
    leaves = flatten_actions(actions)
    recorded = state.leaves
    for position, (action, key) in enumerate(zip(leaves, recorded, strict=False)):
        actual = _leaf_key(action)
        if actual != key:
            raise NonDeterminismError(
                f"Non-Deterministic workflow detected: at action #{position} the history recorded "
                f"{_describe(key)} but the orchestrator now asks for {_describe(actual)}"
            )
    if len(leaves) < len(recorded):
        raise NonDeterminismError(
            f"Non-Deterministic workflow detected: the history recorded {_describe(recorded[len(leaves)])} "
            f"at action #{len(leaves)}, which the orchestrator no longer takes"
        )
    plan = ActionPlan()
    for action in leaves[len(recorded) :]:
        key = _leaf_key(action)
        atype = key[0]
        if atype in (CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY):
            task_id = state.next_id
            state.next_id += 1
            name = str(action.get("functionName"))
            raw_input = action.get("input")
            plan.activities.append(ScheduledTask(task_id, name, raw_input))
            if atype == CALL_ACTIVITY_WITH_RETRY:
                state.retry_tasks[task_id] = _retry_chain(name, raw_input, action)
        elif atype in (CALL_SUB_ORCHESTRATOR, CALL_SUB_ORCHESTRATOR_WITH_RETRY):
            task_id = state.next_id
            state.next_id += 1
            name = str(action.get("functionName"))
            raw_input, child_id = action.get("input"), action.get("instanceId") or None
            plan.sub_orchestrations.append(ScheduledChild(task_id, name, raw_input, child_id))
            if atype == CALL_SUB_ORCHESTRATOR_WITH_RETRY:
                chain = _retry_chain(name, raw_input, action, sub_orchestration=True, instance_id=child_id)
                state.retry_tasks[task_id] = chain
        elif atype == CALL_HTTP:  # the extension's built-in HTTP activity: one task, the request as input
            task_id = state.next_id
            state.next_id += 1
            plan.activities.append(ScheduledTask(task_id, HTTP_ACTIVITY, json.dumps(action.get("httpRequest"))))
        elif atype == CREATE_TIMER:
            timer_id = state.next_id
            state.next_id += 1
            plan.timers.append(ScheduledTimer(timer_id, str(action.get("fireAt"))))
        elif atype == WAIT_FOR_EXTERNAL_EVENT:
            pass  # waits draw no id: the SDK matches EventRaised by name
        elif atype == CONTINUE_AS_NEW:
            plan.continue_as_new = action
        elif atype in (CALL_ENTITY, SIGNAL_ENTITY):
            # Both draw an id, as DTFx's SendEvent does (the SDK bumps its counter for a signal too).
            plan.entity_messages.append(EntityMessage(state.next_id, action))
            state.next_id += 1
        else:
            raise UnsupportedActionError(
                f"{_describe(key)} is not supported by the embedded host "
                "(supported: activities and sub-orchestrations with or without retry, timers, external events, "
                "durable HTTP, entity calls and signals, continue-as-new)"
            )
        recorded.append(key)
    return plan


def _retry_chain(name: str, raw_input: str | None, action: dict[str, Any], **child: Any) -> RetryChain:
    """The chain of a ``*_with_retry`` call, from its ``retryOptions``."""
    options = action.get("retryOptions") or {}
    first_ms = int(options.get("firstRetryIntervalInMilliseconds") or 0)
    return RetryChain(name, raw_input, first_ms, int(options.get("maxNumberOfAttempts") or 1), **child)
