"""Durable entities on the wire: the messages the extension exchanges with a Python entity and its callers.

Pure functions, no I/O, so the replay core (``executor``) and the entity runner (``entities``) share one
definition of each shape. They follow the classic (non-DTS) protocol of the Durable extension, which is what
the Python SDK's ``Entity``, ``TaskOrchestrationExecutor`` and ``DurableOrchestrationClient`` read:

- An entity is addressed by its scheduler id ``@{name lowercased}@{key}`` (``EntityId.get_scheduler_id``).
- ``call_entity``/``signal_entity`` in an orchestrator become an ``EventSent`` history event (EventId = the
  task id, ``InstanceId`` = the scheduler id, ``Name`` = ``"op"``, ``Input`` = the JSON ``RequestMessage``).
  The SDK reads the request ``id`` from that event to match the answer, which arrives as an ``EventRaised``
  named by that id whose ``Input`` is the JSON ``ResponseMessage`` (``exceptionType`` set on failure).
- The entity function gets ``{self, exists, state, batch}`` and answers ``{entityExists, entityState,
  results, signals}``; an operation's ``input`` is the request's input text, JSON-encoded once more.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from embedded_host.durable.history import EventRaised, EventSent, event_raised
from embedded_host.durable.history import event_sent as _event_sent

__all__ = [
    "EVENT_NAME",
    "batch_context",
    "event_sent",
    "request_message",
    "response_event",
    "scheduler_id",
    "split_scheduler_id",
]

EVENT_NAME = "op"  # the extension's RequestMessageEventName
_ERROR_TYPE = "Error"  # the extension's exceptionType for a failed out-of-process operation


def scheduler_id(name: str, key: str) -> str:
    """The instance id of an entity, as the SDK and the extension spell it (names are case-insensitive)."""
    return f"@{name.lower()}@{key}"


def split_scheduler_id(entity_id: str) -> tuple[str, str]:
    """``@name@key`` → (name, key); the key may itself contain ``@``."""
    if not entity_id.startswith("@") or "@" not in entity_id[1:]:
        raise ValueError(f"not an entity id: {entity_id!r}")
    name, _, key = entity_id[1:].partition("@")
    return name, key


def request_message(operation: str, input_text: str | None, *, signal: bool, parent: str | None) -> dict[str, Any]:
    """A ``RequestMessage`` with the extension's property names; ``input_text`` is already the JSON text of
    the input as the extension stores it (absent when there is none, as its serializer omits defaults)."""
    message: dict[str, Any] = {"op": operation, "id": str(uuid.uuid4())}
    if signal:
        message["signal"] = True
    if input_text is not None:
        message["input"] = input_text
    if parent is not None:
        message["parent"] = parent
    return message


def event_sent(task_id: int, action: dict[str, Any], *, instance_id: str, stamp: str, signal: bool) -> EventSent:
    """The ``EventSent`` the extension records for a ``CallEntity``/``SignalEntity`` action.

    The action's ``input`` is the SDK's JSON text of the value; the extension hands that string to
    ``RequestMessage.SetInput``, which serializes it again (a JSON string holding JSON text). The request id
    is drawn once, here, and read back from history on every replay, so it need not be deterministic.
    """
    raw = action.get("input")
    message = request_message(
        str(action.get("operation")),
        None if raw is None else json.dumps(raw),
        signal=signal,
        parent=None if signal else instance_id,
    )
    return _event_sent(stamp, task_id, str(action.get("instanceId")), EVENT_NAME, json.dumps(message))


def batch_context(name: str, key: str, exists: bool, state: str | None, requests: list[dict[str, Any]]) -> str:
    """The entity trigger's context JSON (the extension's ``EntityContextToString``)."""
    batch = [{"name": r.get("op"), "input": r.get("input"), "isSignal": bool(r.get("signal"))} for r in requests]
    return json.dumps({"self": {"name": name, "key": key}, "exists": exists, "state": state, "batch": batch})


def response_event(request_id: str, result: str | None, *, is_error: bool, stamp: str) -> EventRaised:
    """The ``EventRaised`` that answers a call: named by the request id, the ``ResponseMessage`` as input."""
    response: dict[str, Any] = {"result": result}
    if is_error:
        response["exceptionType"] = _ERROR_TYPE
    return event_raised(stamp, request_id, json.dumps(response))
