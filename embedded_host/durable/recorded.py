"""Recorded histories: the Durable HTTP API's status JSON (``showHistory=true&showHistoryOutput=true``) read
back into the event list the SDK replays, split into the episodes it was built in.

Three shapes are read: the embedded host's status JSON (event types by name, no ``OrchestratorStarted``
markers, results as JSON values), Azure's (the same, no ``EventId``s, and ``TaskScheduled`` and
``SubOrchestrationInstanceCreated`` folded into each completion as ``FunctionName``/``ScheduledTime``), and
the SDK's own shape (event types as numbers, results as JSON text, as the extension hands it to the worker).
Sub-orchestrations and entity messages (``EventSent``, answered by an ``EventRaised`` named by the request id)
are read in all three; Azure's status API leaves out the ``Input`` of ``EventRaised`` in some extension
versions, and an entity call's answer cannot be replayed without it. Anything else is a
:class:`RecordingError` with a message that says what is wrong with that one file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from embedded_host.durable.history import EventType, HistoryEvent, event_type_name
from embedded_host.durable.timeutil import parse_iso

__all__ = ["RecordedEpisode", "RecordedInstance", "RecordingError", "read_recording"]

# EventType has every DTFx event type, so a history from another version names what it used instead of "unknown".
_NUMBERS = frozenset(EventType)
_SCHEDULING = frozenset(
    {
        EventType.TaskScheduled,
        EventType.SubOrchestrationInstanceCreated,
        EventType.TimerCreated,
        EventType.EventSent,
    }
)
_COMPLETIONS = frozenset(
    {
        EventType.TaskCompleted,
        EventType.TaskFailed,
        EventType.SubOrchestrationInstanceCompleted,
        EventType.SubOrchestrationInstanceFailed,
    }
)
# A completion's scheduling event, which Azure's status JSON folds into it
_SCHEDULED_BY = {
    EventType.TaskCompleted: EventType.TaskScheduled,
    EventType.TaskFailed: EventType.TaskScheduled,
    EventType.SubOrchestrationInstanceCompleted: EventType.SubOrchestrationInstanceCreated,
    EventType.SubOrchestrationInstanceFailed: EventType.SubOrchestrationInstanceCreated,
}
_ENDINGS = frozenset({EventType.ExecutionCompleted, EventType.ExecutionFailed, EventType.ExecutionTerminated})
_INPUTS = frozenset(
    {
        EventType.ExecutionStarted,
        *_COMPLETIONS,
        EventType.TimerFired,
        EventType.EventRaised,
    }
)
_SKIPPED = frozenset(
    {
        EventType.OrchestratorCompleted,
        EventType.GenericEvent,
        EventType.HistoryState,
        EventType.ExecutionSuspended,
        EventType.ExecutionResumed,
    }
)
_FRACTION = re.compile(r"\.\d{7,}")
_TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


class RecordingError(ValueError):
    """The file is not a replayable history (and says why)."""


@dataclass
class RecordedEpisode:
    """One orchestrator episode as recorded: its start time and the events it delivered to the orchestrator."""

    started: datetime
    inputs: list[tuple[int, HistoryEvent]]  # (index in historyEvents, event)


@dataclass
class RecordedInstance:
    """One instance's history, in the SDK's event shape, with each event's index in the recording.

    ``events`` are the normaliser's dicts; what it hands on is typed as the host's events (history.py), though
    a field the recording left out stays absent (readers of a recording use ``.get``).
    """

    instance_id: str
    name: str
    runtime_status: str | None
    input_text: str | None
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # False for Azure's folded shape: its episode clocks are only known to within an episode's duration
    clock_exact: bool = True
    # A sub-orchestration's parent (``ExecutionStarted.ParentInstance``; Azure's status JSON leaves it out)
    parent_instance_id: str | None = None

    @property
    def scheduled(self) -> list[tuple[int, HistoryEvent]]:
        """What the orchestrator (and the host's retry handling) scheduled, in order."""
        return [(i, cast("HistoryEvent", ev)) for i, ev in self.events if ev["EventType"] in _SCHEDULING]

    @property
    def ending(self) -> tuple[int, dict[str, Any]] | None:
        last = self.events[-1] if self.events else None
        return last if last is not None and last[1]["EventType"] in _ENDINGS else None

    @property
    def ended_failed(self) -> bool:
        """Whether the recorded instance ended as failed."""
        return self.ending is not None and self.ending[1].get("OrchestrationStatus") in ("Failed", 3, "3")

    def episodes(self) -> list[RecordedEpisode]:
        """Episodes as the history records them, or one per delivered event when the markers were left out.

        Without ``OrchestratorStarted`` markers an episode's clock is taken from the first event scheduled after
        its input (both carry the episode's time), so timers placed from ``current_utc_datetime`` come out the
        same as when the instance ran.
        """
        if any(ev["EventType"] == EventType.OrchestratorStarted for _, ev in self.events):
            return self._marked_episodes()
        episodes = []
        for position, (index, ev) in enumerate(self.events):
            if ev["EventType"] not in _INPUTS:
                continue
            clock = next(
                (
                    later["Timestamp"]
                    for _, later in self.events[position + 1 :]
                    if later["EventType"] in _SCHEDULING or later["EventType"] in _ENDINGS
                ),
                ev["Timestamp"],
            )
            episodes.append(RecordedEpisode(_time(clock, index), [(index, cast("HistoryEvent", ev))]))
        return episodes

    def _marked_episodes(self) -> list[RecordedEpisode]:
        episodes: list[RecordedEpisode] = []
        for index, ev in self.events:
            if ev["EventType"] == EventType.OrchestratorStarted:
                episodes.append(RecordedEpisode(_time(ev["Timestamp"], index), []))
            elif ev["EventType"] in _INPUTS and episodes:
                episodes[-1].inputs.append((index, cast("HistoryEvent", ev)))
        return [e for e in episodes if e.inputs]


def read_recording(doc: Any) -> RecordedInstance:
    """A status JSON document as a :class:`RecordedInstance`, or a :class:`RecordingError` saying why not."""
    if not isinstance(doc, dict) or ("runtimeStatus" not in doc and "historyEvents" not in doc):
        raise RecordingError("not a Durable instance status (expected an object with runtimeStatus and historyEvents)")
    raw_events = doc.get("historyEvents")
    if not isinstance(raw_events, list):
        raise RecordingError("no historyEvents: save the status with showHistory=true&showHistoryOutput=true")
    normalised = ((i, _normalise(i, raw, doc)) for i, raw in enumerate(raw_events))
    events = [(i, ev) for i, ev in normalised if ev is not None]
    if not events or events[0][1]["EventType"] != EventType.ExecutionStarted:
        first = event_type_name(events[0][1]["EventType"]) if events else "nothing"
        raise RecordingError(f"truncated history: it starts with {first}, not ExecutionStarted")
    started = events[0][1]
    name = str(doc.get("name") or started.get("Name") or "")
    started["Name"] = name
    instance_id = str(doc.get("instanceId") or "")
    if "Input" not in started or started["Input"] is None:
        started["Input"] = None if doc.get("input") is None else json.dumps(doc.get("input"))
    status = doc.get("runtimeStatus")
    recorded = RecordedInstance(instance_id, name, status, started["Input"], events)
    parent = started.get("ParentInstance")
    if isinstance(parent, dict) and isinstance(parent.get("OrchestrationInstance"), dict):
        # a child's code may read context.parent_instance_id, so the replay must hand it the same one
        recorded.parent_instance_id = parent["OrchestrationInstance"].get("InstanceId")
    if _has_folded_schedules(events):
        recorded.events = _unfold_schedules(events)
        recorded.clock_exact = False
    _read_entity_answers(recorded.events)
    _check_complete(recorded)
    return recorded


def _normalise(index: int, raw: Any, doc: dict[str, Any]) -> dict[str, Any] | None:
    """One event in the SDK's shape (numeric type, JSON text for payloads), or None for one replay ignores."""
    if not isinstance(raw, dict) or "EventType" not in raw:
        raise RecordingError(f"historyEvents[{index}] is not a history event")
    etype = raw["EventType"]
    internal = isinstance(etype, int)
    if not internal:
        if etype not in EventType.__members__:
            raise RecordingError(
                f"historyEvents[{index}] has event type {etype!r}, which this version of the Durable "
                "extension and SDK does not know (recorded by a newer or older one?)"
            )
        etype = EventType[etype]
    elif etype not in _NUMBERS:
        raise RecordingError(
            f"historyEvents[{index}] has event type number {etype}, which this version of the Durable "
            "extension and SDK does not know (recorded by a newer or older one?)"
        )
    if etype in _SKIPPED:
        # no input to the orchestrator, nothing it scheduled (the SDK skips suspend/resume markers too; a
        # rewind's GenericEvents keep the failures it undid, which the rewound replay no longer sees)
        return None
    if internal:
        ev = dict(raw)
        ev.setdefault("EventId", -1)
        ev["IsPlayed"] = True
        if etype == EventType.ExecutionStarted:
            ev.setdefault("Version", "")  # the SDK requires it; older exports may lack it
        return ev
    fields: dict[str, Any] = {}
    for key in (
        "Name",
        "TaskScheduledId",
        "TimerId",
        "FireAt",
        "Reason",
        "Details",
        "OrchestrationStatus",
        "Version",
        "ScheduledTime",
        "FunctionName",
        "InstanceId",
        "ParentInstance",
    ):
        if key in raw:
            fields[key] = raw[key]
    if "Name" not in fields and "FunctionName" in raw:
        fields["Name"] = raw["FunctionName"]
    if etype == EventType.ExecutionStarted:
        fields.setdefault("Version", "")
        if "Input" in raw:
            fields["Input"] = _as_text(raw["Input"])
    if etype in (EventType.TaskCompleted, EventType.SubOrchestrationInstanceCompleted):
        if "Result" not in raw:
            raise RecordingError(
                f"historyEvents[{index}] ({event_type_name(etype)}) has no Result: save the status with "
                "showHistoryOutput=true, the replay needs every activity's and sub-orchestration's result"
            )
        fields["Result"] = _as_text(raw["Result"])
    if etype == EventType.SubOrchestrationInstanceCreated and "Name" not in fields:
        raise RecordingError(f"historyEvents[{index}] (SubOrchestrationInstanceCreated) has no Name")
    if etype == EventType.EventSent:
        fields["Input"] = _message_text(index, raw.get("Input"))
    if etype == EventType.EventRaised:
        if "Input" not in raw:
            fields["_no_input"] = True  # refused later if it answers an entity call (_read_entity_answers)
        fields["Input"] = _as_text(raw.get("Input"))
    if etype in (EventType.ExecutionCompleted, EventType.ExecutionFailed) and "Result" in raw:
        fields["Result"] = _as_text(raw["Result"])
    timestamp = raw.get("Timestamp")
    if not isinstance(timestamp, str):
        raise RecordingError(f"historyEvents[{index}] has no Timestamp")
    return _event(etype, timestamp, int(raw.get("EventId", -1)), **fields)


def _event(event_type: int, timestamp: str, event_id: int, **fields: Any) -> dict[str, Any]:
    """An event in the shape the host writes (history.py), from what a recording shows of it."""
    return {"EventType": event_type, "EventId": event_id, "IsPlayed": False, "Timestamp": timestamp, **fields}


def _as_text(value: Any) -> str | None:
    """Status JSON shows payloads parsed; the SDK reads them as JSON text."""
    return None if value is None else json.dumps(value)


def _message_text(index: int, value: Any) -> str:
    """An ``EventSent``'s request message as JSON text: the embedded host shows it parsed, Azure as the text
    it stored. The SDK reads the request id from it to match the answer, so it must be there."""
    message = value
    if isinstance(value, str):
        try:
            message = json.loads(value)
        except ValueError:
            message = None
    if not isinstance(message, dict) or "op" not in message or "id" not in message:
        raise RecordingError(
            f"historyEvents[{index}] (EventSent) has no entity request message as its Input (save the status "
            "with showInput=true): the replay needs the request id that matches the entity's answer"
        )
    return json.dumps(message)


def _read_entity_answers(events: list[tuple[int, dict[str, Any]]]) -> None:
    """Entity calls' answers (``EventRaised`` named by a request id) as the SDK reads them.

    Without its payload (Azure's status API drops ``EventRaised.Input`` in some versions) an answer would
    replay as null, which the SDK cannot read: refused by name. A payload shown as the text it was stored
    as (Azure, where the embedded host shows it parsed) is taken as that JSON text, not encoded again.
    """
    calls: dict[str, str] = {}
    for index, ev in events:
        etype = ev["EventType"]
        if etype == EventType.EventSent:
            message = json.loads(ev["Input"])
            calls[str(message.get("id"))] = f"{message.get('op')!r} on {ev.get('InstanceId')}"
        elif etype == EventType.EventRaised and ev.get("Name") in calls:
            if ev.pop("_no_input", False):
                raise RecordingError(
                    f"historyEvents[{index}] is the EventRaised that answers entity operation "
                    f"{calls[ev['Name']]} but has no Input (Azure's status API leaves it out): the replay "
                    "needs the entity's answer"
                )
            shown = json.loads(ev["Input"]) if ev.get("Input") is not None else None
            if isinstance(shown, str) and shown.lstrip().startswith("{"):
                ev["Input"] = shown
        elif etype == EventType.EventRaised:
            ev.pop("_no_input", None)


def _has_folded_schedules(events: list[tuple[int, dict[str, Any]]]) -> bool:
    """Azure's shape: no event keeps its ``EventId``, so completions have no ``TaskScheduledId`` either."""
    done = [ev for _, ev in events if ev["EventType"] in _COMPLETIONS]
    scheduled = [ev for _, ev in events if ev["EventType"] in _SCHEDULING]
    return any("TaskScheduledId" not in ev for ev in done) or any(ev["EventId"] < 0 for ev in scheduled)


def _unfold_schedules(events: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """Azure folds each ``TaskScheduled`` and ``SubOrchestrationInstanceCreated`` into its completion: put them
    back, ids in creation order.

    Tasks, children, timers and entity messages share one id counter, so ids follow the order of
    ``ScheduledTime`` and of the scheduling events still shown (timers, entity messages, and tasks or children
    still running, whose completion has not folded them away). A rebuilt child has no instance id: Azure
    does not show it once the child has ended.
    """
    created: list[tuple[str, int, dict[str, Any]]] = []  # (time, order, event scheduled)
    for order, (_, ev) in enumerate(events):
        if ev["EventType"] in _COMPLETIONS and "TaskScheduledId" not in ev:
            when = str(ev.get("ScheduledTime") or ev["Timestamp"])
            kind = _SCHEDULED_BY[ev["EventType"]]
            scheduled = _event(kind, when, -1, Name=ev.get("Name"), Version="", Input=None)
            ev["_scheduled"] = scheduled
            created.append((when, order, scheduled))
        elif ev["EventType"] in _SCHEDULING:
            created.append((ev["Timestamp"], order, ev))
    created.sort(key=lambda item: (item[0], item[1]))
    timers_by_fire: dict[str, int] = {}
    for task_id, (_, _, scheduled) in enumerate(created):
        scheduled["EventId"] = task_id
        if scheduled["EventType"] == EventType.TimerCreated:
            timers_by_fire.setdefault(str(scheduled.get("FireAt")), task_id)
    out: list[tuple[int, dict[str, Any]]] = []
    pending = sorted(((when, s) for when, order, s in created if s is not events[order][1]), key=lambda item: item[0])
    for index, ev in events:
        while pending and pending[0][0] <= ev["Timestamp"] and ev["EventType"] not in _SCHEDULING:
            out.append((index, pending.pop(0)[1]))
        scheduled = ev.pop("_scheduled", None)
        if scheduled is not None:
            ev["TaskScheduledId"] = scheduled["EventId"]
        if ev["EventType"] == EventType.TimerFired and "TimerId" not in ev:
            ev["TimerId"] = timers_by_fire.get(str(ev.get("FireAt")), -1)
        out.append((index, ev))
    return out


def _check_complete(recorded: RecordedInstance) -> None:
    """A cut-off history would replay as a divergence; say it is truncated instead."""
    scheduled_ids = set()
    for index, ev in recorded.events:
        etype = ev["EventType"]
        if etype in _SCHEDULING:
            scheduled_ids.add(ev.get("EventId"))
        elif etype in _COMPLETIONS:
            if ev.get("TaskScheduledId") not in scheduled_ids:
                raise RecordingError(
                    f"truncated or edited history: historyEvents[{index}] completes task "
                    f"{ev.get('TaskScheduledId')}, which no earlier event scheduled"
                )
        elif etype == EventType.TimerFired and ev.get("TimerId") not in scheduled_ids:
            raise RecordingError(
                f"truncated or edited history: historyEvents[{index}] fires timer "
                f"{ev.get('TimerId')}, which no earlier event created"
            )
    if recorded.runtime_status in _TERMINAL and recorded.ending is None:
        last_index, last = recorded.events[-1]
        raise RecordingError(
            f"truncated history: the instance is {recorded.runtime_status} but its history ends at "
            f"historyEvents[{last_index}] ({event_type_name(last['EventType'])}), not at its completion"
        )


def _time(text: str, index: int) -> datetime:
    try:
        return parse_iso(_FRACTION.sub(lambda m: m.group(0)[:7], text))  # .NET writes 7 digits, Python reads 6
    except ValueError:
        raise RecordingError(f"historyEvents[{index}] has an unreadable Timestamp {text!r}") from None
