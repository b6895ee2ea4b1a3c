"""History events on the wire: the builders' JSON, the event-type numbers, and the readers on events read back.

The engine keeps histories as JSON text and the Durable SDK replays exactly these dicts, so the builders must
write the same keys in the same order as the extension's shape (asserted as text, byte for byte), and the
readers must work on events read back from JSON, whose ``EventType`` is a plain number.
"""

from __future__ import annotations

import json
import re

from azure.durable_functions.models.history.HistoryEventType import HistoryEventType

from embedded_host.durable import history as h
from embedded_host.durable.history import EventType


def test_event_types_are_the_sdks_numbers_and_the_status_apis_names() -> None:
    for member in EventType:
        sdk_name = re.sub(r"(?<!^)(?=[A-Z])", "_", member.name).upper()  # TaskScheduled -> TASK_SCHEDULED
        assert HistoryEventType[sdk_name] == member.value, member
        assert h.event_type_name(member.value) == member.name
    assert len(EventType) == len(HistoryEventType)
    assert h.event_type_name(99) == "99"  # a type added after this version still shows as its number


def test_builders_write_the_wire_shape_byte_for_byte() -> None:
    instance: h.OrchestrationInstance = {"InstanceId": "i", "ExecutionId": "e"}
    parent: h.ParentInstance = {"Name": "p", "Version": "", "TaskScheduleId": 2, "OrchestrationInstance": instance}
    shown_instance = '{"InstanceId": "i", "ExecutionId": "e"}'
    shown_parent = '{"Name": "p", "Version": "", "TaskScheduleId": 2, "OrchestrationInstance": ' + shown_instance + "}"

    def wire(kind: int, rest: str, event_id: int = -1) -> str:
        return f'{{"EventType": {kind}, "EventId": {event_id}, "IsPlayed": false, "Timestamp": "t", {rest}}}'

    cases: list[tuple[h.HistoryEvent, str]] = [
        (
            h.execution_started("t", "n", "1", instance, parent),
            wire(
                0,
                f'"Name": "n", "Version": "", "Input": "1", "OrchestrationInstance": {shown_instance}, '
                f'"ParentInstance": {shown_parent}, "Generation": 0',
            ),
        ),
        (
            h.execution_completed("t", "Failed", None, "f"),
            wire(1, '"OrchestrationStatus": "Failed", "Result": null, "FailureDetails": "f"'),
        ),
        (h.execution_terminated("t", "why"), wire(3, '"Input": "why"')),
        (h.task_scheduled("t", 3, "a", None), wire(4, '"Name": "a", "Version": "", "Input": null', 3)),
        (h.task_completed("t", 3, "2"), wire(5, '"TaskScheduledId": 3, "Result": "2"')),
        (h.task_failed("t", 3, "r", None), wire(6, '"TaskScheduledId": 3, "Reason": "r", "Details": null')),
        (
            h.sub_orchestration_created("t", 4, "c", None, "1"),
            wire(7, '"Name": "c", "Version": "", "InstanceId": null, "Input": "1"', 4),
        ),
        (h.sub_orchestration_completed("t", 4, "2"), wire(8, '"TaskScheduledId": 4, "Result": "2"')),
        (h.timer_created("t", 5, "f"), wire(10, '"FireAt": "f"', 5)),
        (h.timer_fired("t", 5, "f"), wire(11, '"TimerId": 5, "FireAt": "f"')),
        (h.event_sent("t", 6, "@e@k", "op", "{}"), wire(14, '"InstanceId": "@e@k", "Name": "op", "Input": "{}"', 6)),
        (h.event_raised("t", "go", None), wire(15, '"Name": "go", "Input": null')),
        (h.generic_event("t", "d"), wire(17, '"Data": "d"')),
        (h.execution_suspended("t", None), wire(19, '"Reason": null')),
    ]
    for built, text in cases:
        assert json.dumps(built) == text
    assert (
        json.dumps(h.orchestrator_started("t"))
        == '{"EventType": 12, "EventId": -1, "IsPlayed": false, "Timestamp": "t"}'
    )


def test_readers_work_on_events_read_back_from_json() -> None:
    scheduled = h.load_event(json.dumps(h.task_scheduled("t", 3, "a", None)))
    assert type(scheduled["EventType"]) is int  # a plain number, not the enum member
    assert h.is_task_scheduled(scheduled) and not h.is_timer_created(scheduled)
    assert h.event_type(scheduled) == EventType.TaskScheduled and h.event_id(scheduled) == 3
    failed = h.load_event(json.dumps(h.sub_orchestration_failed("t", 7, "r", None)))
    assert (h.failed_task(failed), h.completed_task(failed), h.fired_timer(failed)) == (7, None, None)
    done = h.load_event(json.dumps(h.task_completed("t", 8, None)))
    assert (h.failed_task(done), h.completed_task(done)) == (None, 8)
    assert h.fired_timer(h.load_event(json.dumps(h.timer_fired("t", 9, "f")))) == 9
