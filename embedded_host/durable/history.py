"""History events in the PascalCase shape the Durable Python SDK replays (EventType, EventId, Timestamp...).

Each kind the host writes has a TypedDict, a builder and, where code branches on it, a narrowing reader. The
events stay plain dicts with the wire's keys, because the engine keeps histories as ready-made JSON text and the
SDK replays exactly these dicts: a builder is one dict literal, with the keys in the order the host has always
written them, so the JSON is the same byte for byte. ``EventType`` is an ``IntEnum``, which ``json`` writes as
its bare number; an event read back from JSON carries that plain ``int``, which compares equal to the member
(so kinds are compared with ``==`` and ``in``, never ``is``).

Only the JSON boundaries (:func:`load_event`, and status.py, which shows stored events in the status API's
shape) and the normaliser of recorded histories (recorded.py) touch the keys without these types.
"""

from __future__ import annotations

import enum
import json
from typing import TYPE_CHECKING, Final, Literal, TypedDict, cast

if TYPE_CHECKING:
    from typing_extensions import TypeIs

__all__ = [
    "EventRaised",
    "EventSent",
    "EventType",
    "ExecutionCompleted",
    "ExecutionResumed",
    "ExecutionStarted",
    "ExecutionSuspended",
    "ExecutionTerminated",
    "GenericEvent",
    "HistoryEvent",
    "OrchestrationInstance",
    "OrchestratorCompleted",
    "OrchestratorStarted",
    "ParentInstance",
    "ScheduledEvent",
    "SubOrchestrationInstanceCompleted",
    "SubOrchestrationInstanceCreated",
    "SubOrchestrationInstanceFailed",
    "TaskCompleted",
    "TaskFailed",
    "TaskScheduled",
    "TimerCreated",
    "TimerFired",
    "completed_task",
    "event_id",
    "event_raised",
    "event_sent",
    "event_type",
    "event_type_name",
    "execution_completed",
    "execution_resumed",
    "execution_started",
    "execution_suspended",
    "execution_terminated",
    "failed_task",
    "fired_timer",
    "generic_event",
    "is_event_sent",
    "is_execution_started",
    "is_execution_suspended",
    "is_execution_terminated",
    "is_sub_orchestration_created",
    "is_task_scheduled",
    "is_timer_created",
    "load_event",
    "orchestrator_completed",
    "orchestrator_started",
    "sub_orchestration_completed",
    "sub_orchestration_created",
    "sub_orchestration_failed",
    "task_completed",
    "task_failed",
    "task_scheduled",
    "timer_created",
    "timer_fired",
]


class EventType(enum.IntEnum):
    """DTFx ``EventType`` numbers; a member's name is the name the status API shows."""

    ExecutionStarted = 0
    ExecutionCompleted = 1
    ExecutionFailed = 2
    ExecutionTerminated = 3
    TaskScheduled = 4
    TaskCompleted = 5
    TaskFailed = 6
    SubOrchestrationInstanceCreated = 7
    SubOrchestrationInstanceCompleted = 8
    SubOrchestrationInstanceFailed = 9
    TimerCreated = 10
    TimerFired = 11
    OrchestratorStarted = 12
    OrchestratorCompleted = 13
    EventSent = 14
    EventRaised = 15
    ContinueAsNew = 16
    GenericEvent = 17
    HistoryState = 18  # never written by this host; named so recordings that hold one say so
    ExecutionSuspended = 19
    ExecutionResumed = 20


_Kind = EventType  # a TypedDict's ``EventType`` key would hide the class inside its own body
_NAMES = {member.value: member.name for member in EventType}


def event_type_name(value: int) -> str:
    """The name the status API shows for an event type (the number itself for one DTFx added later)."""
    return _NAMES.get(value, str(value))


# -- the shapes ---------------------------------------------------------------------------------------------------
class _Event(TypedDict):
    """The four fields every event carries (``EventId`` -1 unless the event is a task's or timer's own)."""

    EventId: int
    IsPlayed: bool
    Timestamp: str


def _head(stamp: str, event_id: int = -1) -> _Event:
    """The fields after ``EventType`` that every event carries, in the wire's order."""
    return {"EventId": event_id, "IsPlayed": False, "Timestamp": stamp}


class OrchestrationInstance(TypedDict):
    InstanceId: str
    ExecutionId: str


class ParentInstance(TypedDict):
    """DTFx ``ParentInstance``: the parent a sub-orchestration answers to, and the task it answers."""

    Name: str
    Version: str
    TaskScheduleId: int
    OrchestrationInstance: OrchestrationInstance


class ExecutionStarted(_Event):
    EventType: Literal[_Kind.ExecutionStarted]
    Name: str
    Version: str
    Input: str | None
    OrchestrationInstance: OrchestrationInstance
    ParentInstance: ParentInstance | None
    Generation: int


class ExecutionCompleted(_Event):
    EventType: Literal[_Kind.ExecutionCompleted]
    OrchestrationStatus: str
    Result: str | None
    FailureDetails: str | None


class ExecutionTerminated(_Event):
    EventType: Literal[_Kind.ExecutionTerminated]
    Input: str | None  # the reason


class ExecutionSuspended(_Event):
    EventType: Literal[_Kind.ExecutionSuspended]
    Reason: str | None


class ExecutionResumed(_Event):
    EventType: Literal[_Kind.ExecutionResumed]
    Reason: str | None


class TaskScheduled(_Event):
    EventType: Literal[_Kind.TaskScheduled]
    Name: str
    Version: str
    Input: str | None


class _Answer(_Event):
    """What a scheduled task or sub-orchestration answered (``TaskScheduledId`` names the scheduling event)."""

    TaskScheduledId: int
    Result: str | None


class _Failure(_Event):
    """How a scheduled task or sub-orchestration failed."""

    TaskScheduledId: int
    Reason: str
    Details: str | None


class TaskCompleted(_Answer):
    EventType: Literal[_Kind.TaskCompleted]


class TaskFailed(_Failure):
    EventType: Literal[_Kind.TaskFailed]


class SubOrchestrationInstanceCreated(_Event):
    EventType: Literal[_Kind.SubOrchestrationInstanceCreated]
    Name: str
    Version: str
    InstanceId: str | None  # None until the host names the child (suborchestrations.py)
    Input: str | None


class SubOrchestrationInstanceCompleted(_Answer):
    EventType: Literal[_Kind.SubOrchestrationInstanceCompleted]


class SubOrchestrationInstanceFailed(_Failure):
    EventType: Literal[_Kind.SubOrchestrationInstanceFailed]


class TimerCreated(_Event):
    EventType: Literal[_Kind.TimerCreated]
    FireAt: str


class TimerFired(_Event):
    EventType: Literal[_Kind.TimerFired]
    TimerId: int
    FireAt: str


class OrchestratorStarted(_Event):
    EventType: Literal[_Kind.OrchestratorStarted]


class OrchestratorCompleted(_Event):
    EventType: Literal[_Kind.OrchestratorCompleted]


class EventSent(_Event):
    """A message to an entity (entity_protocol.py): ``InstanceId`` its scheduler id, ``Input`` the request."""

    EventType: Literal[_Kind.EventSent]
    InstanceId: str
    Name: str
    Input: str


class EventRaised(_Event):
    EventType: Literal[_Kind.EventRaised]
    Name: str
    Input: str | None


class GenericEvent(_Event):
    EventType: Literal[_Kind.GenericEvent]
    Data: str


HistoryEvent = (
    ExecutionStarted
    | ExecutionCompleted
    | ExecutionTerminated
    | ExecutionSuspended
    | ExecutionResumed
    | TaskScheduled
    | TaskCompleted
    | TaskFailed
    | SubOrchestrationInstanceCreated
    | SubOrchestrationInstanceCompleted
    | SubOrchestrationInstanceFailed
    | TimerCreated
    | TimerFired
    | OrchestratorStarted
    | OrchestratorCompleted
    | EventSent
    | EventRaised
    | GenericEvent
)
# What an episode schedules (episode.py), each under the task id it draws
ScheduledEvent = TaskScheduled | SubOrchestrationInstanceCreated | TimerCreated | EventSent


# The builders and readers run on the engine's hot path, and on Python 3.11 reading an enum member off its class
# goes through a descriptor (about four times a global's cost), so they use the members as module constants.
_EXECUTION_STARTED: Final = EventType.ExecutionStarted
_EXECUTION_COMPLETED: Final = EventType.ExecutionCompleted
_EXECUTION_TERMINATED: Final = EventType.ExecutionTerminated
_EXECUTION_SUSPENDED: Final = EventType.ExecutionSuspended
_EXECUTION_RESUMED: Final = EventType.ExecutionResumed
_TASK_SCHEDULED: Final = EventType.TaskScheduled
_TASK_COMPLETED: Final = EventType.TaskCompleted
_TASK_FAILED: Final = EventType.TaskFailed
_SUB_ORCHESTRATION_INSTANCE_CREATED: Final = EventType.SubOrchestrationInstanceCreated
_SUB_ORCHESTRATION_INSTANCE_COMPLETED: Final = EventType.SubOrchestrationInstanceCompleted
_SUB_ORCHESTRATION_INSTANCE_FAILED: Final = EventType.SubOrchestrationInstanceFailed
_TIMER_CREATED: Final = EventType.TimerCreated
_TIMER_FIRED: Final = EventType.TimerFired
_ORCHESTRATOR_STARTED: Final = EventType.OrchestratorStarted
_ORCHESTRATOR_COMPLETED: Final = EventType.OrchestratorCompleted
_EVENT_SENT: Final = EventType.EventSent
_EVENT_RAISED: Final = EventType.EventRaised
_GENERIC_EVENT: Final = EventType.GenericEvent


# -- builders (keys in the order the host writes them) ----------------------------------------------------------
def execution_started(
    stamp: str,
    name: str,
    input_text: str | None,
    instance: OrchestrationInstance,
    parent: ParentInstance | None = None,
) -> ExecutionStarted:
    return {
        "EventType": _EXECUTION_STARTED,
        **_head(stamp),
        "Name": name,
        "Version": "",
        "Input": input_text,
        "OrchestrationInstance": instance,
        "ParentInstance": parent,
        "Generation": 0,
    }


def execution_completed(stamp: str, status: str, result: str | None, failure: str | None) -> ExecutionCompleted:
    return {
        "EventType": _EXECUTION_COMPLETED,
        **_head(stamp),
        "OrchestrationStatus": status,
        "Result": result,
        "FailureDetails": failure,
    }


def execution_terminated(stamp: str, reason: str | None) -> ExecutionTerminated:
    return {"EventType": _EXECUTION_TERMINATED, **_head(stamp), "Input": reason}


def execution_suspended(stamp: str, reason: str | None) -> ExecutionSuspended:
    return {"EventType": _EXECUTION_SUSPENDED, **_head(stamp), "Reason": reason}


def execution_resumed(stamp: str, reason: str | None) -> ExecutionResumed:
    return {"EventType": _EXECUTION_RESUMED, **_head(stamp), "Reason": reason}


def task_scheduled(stamp: str, task_id: int, name: str, input_text: str | None) -> TaskScheduled:
    return {"EventType": _TASK_SCHEDULED, **_head(stamp, task_id), "Name": name, "Version": "", "Input": input_text}


def task_completed(stamp: str, task_id: int, result: str | None) -> TaskCompleted:
    return {"EventType": _TASK_COMPLETED, **_head(stamp), "TaskScheduledId": task_id, "Result": result}


def task_failed(stamp: str, task_id: int, reason: str, details: str | None) -> TaskFailed:
    return {"EventType": _TASK_FAILED, **_head(stamp), "TaskScheduledId": task_id, "Reason": reason, "Details": details}


def sub_orchestration_created(
    stamp: str, task_id: int, name: str, instance_id: str | None, input_text: str | None
) -> SubOrchestrationInstanceCreated:
    return {
        "EventType": _SUB_ORCHESTRATION_INSTANCE_CREATED,
        **_head(stamp, task_id),
        "Name": name,
        "Version": "",
        "InstanceId": instance_id,
        "Input": input_text,
    }


def sub_orchestration_completed(stamp: str, task_id: int, result: str | None) -> SubOrchestrationInstanceCompleted:
    return {
        "EventType": _SUB_ORCHESTRATION_INSTANCE_COMPLETED,
        **_head(stamp),
        "TaskScheduledId": task_id,
        "Result": result,
    }


def sub_orchestration_failed(
    stamp: str, task_id: int, reason: str, details: str | None
) -> SubOrchestrationInstanceFailed:
    return {
        "EventType": _SUB_ORCHESTRATION_INSTANCE_FAILED,
        **_head(stamp),
        "TaskScheduledId": task_id,
        "Reason": reason,
        "Details": details,
    }


def timer_created(stamp: str, timer_id: int, fire_at: str) -> TimerCreated:
    return {"EventType": _TIMER_CREATED, **_head(stamp, timer_id), "FireAt": fire_at}


def timer_fired(stamp: str, timer_id: int, fire_at: str) -> TimerFired:
    return {"EventType": _TIMER_FIRED, **_head(stamp), "TimerId": timer_id, "FireAt": fire_at}


def orchestrator_started(stamp: str) -> OrchestratorStarted:
    return {"EventType": _ORCHESTRATOR_STARTED, **_head(stamp)}


def orchestrator_completed(stamp: str) -> OrchestratorCompleted:
    return {"EventType": _ORCHESTRATOR_COMPLETED, **_head(stamp)}


def event_sent(stamp: str, task_id: int, instance_id: str, name: str, input_text: str) -> EventSent:
    return {
        "EventType": _EVENT_SENT,
        **_head(stamp, task_id),
        "InstanceId": instance_id,
        "Name": name,
        "Input": input_text,
    }


def event_raised(stamp: str, name: str, input_text: str | None) -> EventRaised:
    return {"EventType": _EVENT_RAISED, **_head(stamp), "Name": name, "Input": input_text}


def generic_event(stamp: str, data: str) -> GenericEvent:
    return {"EventType": _GENERIC_EVENT, **_head(stamp), "Data": data}


# -- readers ------------------------------------------------------------------------------------------------------
def load_event(text: str) -> HistoryEvent:
    """An event the host wrote, read back from its JSON text (the one place it is taken on trust)."""
    return cast("HistoryEvent", json.loads(text))


def event_type(ev: HistoryEvent) -> EventType:
    """The event's kind (a plain ``int`` equal to the member when the event was read back from JSON)."""
    return ev["EventType"]


def event_id(ev: HistoryEvent) -> int:
    """The task or timer id of a scheduling event (-1 on the others)."""
    return ev["EventId"]


def is_execution_started(ev: HistoryEvent) -> TypeIs[ExecutionStarted]:
    return ev["EventType"] == _EXECUTION_STARTED


def is_execution_terminated(ev: HistoryEvent) -> TypeIs[ExecutionTerminated]:
    return ev["EventType"] == _EXECUTION_TERMINATED


def is_execution_suspended(ev: HistoryEvent) -> TypeIs[ExecutionSuspended]:
    return ev["EventType"] == _EXECUTION_SUSPENDED


def is_task_scheduled(ev: HistoryEvent) -> TypeIs[TaskScheduled]:
    return ev["EventType"] == _TASK_SCHEDULED


def is_sub_orchestration_created(ev: HistoryEvent) -> TypeIs[SubOrchestrationInstanceCreated]:
    return ev["EventType"] == _SUB_ORCHESTRATION_INSTANCE_CREATED


def is_timer_created(ev: HistoryEvent) -> TypeIs[TimerCreated]:
    return ev["EventType"] == _TIMER_CREATED


def is_event_sent(ev: HistoryEvent) -> TypeIs[EventSent]:
    return ev["EventType"] == _EVENT_SENT


def completed_task(ev: HistoryEvent) -> int | None:
    """The task id a ``TaskCompleted``/``SubOrchestrationInstanceCompleted`` answers (None for other kinds)."""
    if ev["EventType"] == _TASK_COMPLETED or ev["EventType"] == _SUB_ORCHESTRATION_INSTANCE_COMPLETED:
        return ev.get("TaskScheduledId")
    return None


def failed_task(ev: HistoryEvent) -> int | None:
    """The task id a ``TaskFailed``/``SubOrchestrationInstanceFailed`` answers (None for other kinds)."""
    if ev["EventType"] == _TASK_FAILED or ev["EventType"] == _SUB_ORCHESTRATION_INSTANCE_FAILED:
        return ev.get("TaskScheduledId")
    return None


def fired_timer(ev: HistoryEvent) -> int | None:
    """The timer id a ``TimerFired`` answers (None for other kinds)."""
    if ev["EventType"] == _TIMER_FIRED:
        return ev.get("TimerId")
    return None
