"""Extended sessions: a running orchestration's SDK executor kept between its episodes, so it is not replayed.

Without them, every episode rebuilds the SDK's context from the whole history and runs the orchestrator from
its first line again: the cost of an episode grows with the history, and a run of n episodes replays
n(n+1)/2 events (in a profile of the real pipeline, about half of the event loop's time). The Durable
extension has the same remedy for .NET (``extendedSessionsEnabled``); the embedded host does it for any app,
because the SDK's executor is deterministic in the events it is fed: feeding a kept executor only the events
that are new since its last episode leaves it in the state a full replay would reach, and it answers with the
same state JSON. Every event is fed exactly once, in history order, including those the host appended after the last
episode (``TaskScheduled``, ``EventSent``, the episode's end) and whole episodes it recorded without
running the orchestrator (a suspend).

A session is memory only. It is dropped when the run finishes, continues as new or is rewound, when memory
is rebuilt from the file (start-up, a rolled-back transaction), and for the least recently used run when more
than :data:`CAPACITY` are kept; the next episode then replays in full, as it always did.

What a session does not do is run the orchestrator's earlier steps again, so code that changes under a
running instance (or is not deterministic) is found when the instance next replays in full (the next host
start, a deploy) rather than at its next episode, as with the extension's sessions. ``pipeline replay``
checks recorded histories against the code, and host.json's ``extendedSessionsEnabled: false`` makes the
embedded host replay every episode (on Azure, Python apps always do).

It reaches into SDK internals (``Orchestrator.create``'s ``orchestrator_function``, the executor's
``execute``/``process_event``/``get_orchestrator_state_str``); :func:`session_for` answers None when they are
missing, so the host falls back to full replays; tests/embedded_host/test_sdk_internals.py fails when an SDK
upgrade moves them.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from embedded_host.durable.history import HistoryEvent

__all__ = ["CAPACITY", "Session", "SessionPool", "session_for"]

CAPACITY = 500  # sessions kept at once; beyond that the least recently used run replays in full again


class Session:
    """The SDK's context and executor for one execution of one orchestration, between episodes."""

    __slots__ = ("_context", "_executor", "_function", "_input_type")

    def __init__(self, function: Callable[..., Any], input_type: Any) -> None:
        self._function = function  # the app's generator function, as the SDK's handle wraps it
        self._input_type = input_type
        self._context: Any = None
        self._executor: Any = None

    @property
    def fed(self) -> int:
        """How many history events the kept executor has seen (0: none kept)."""
        return len(self._context.histories) if self._context is not None else 0

    def can_resume(self, old_parts: list[str]) -> bool:
        """Whether the kept executor saw a prefix of this history (else a full replay starts over)."""
        return self._executor is not None and 0 < self.fed <= len(old_parts)

    def replay(self, context_json: str) -> str:
        """A full replay, as the SDK's own handle does it, keeping the context and executor it builds."""
        from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
        from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

        self._context = self._executor = None
        context = DurableOrchestrationContext.from_json(context_json)
        context._input_expected_type = self._input_type
        executor = TaskOrchestrationExecutor()
        state = executor.execute(context, context.histories, self._function)
        if not executor.has_execution_completed:  # a finished run has nothing to resume
            self._context, self._executor = context, executor
        return state

    def resume(self, old_parts: list[str], new_events: list[HistoryEvent]) -> str:
        """Feed the events recorded since the last episode, then this episode's; answer the SDK's state JSON."""
        from azure.durable_functions.models.history.HistoryEvent import HistoryEvent as SdkEvent

        context, executor = self._context, self._executor
        self._context = self._executor = None  # kept again only if this episode leaves it consistent
        recorded = [SdkEvent(**json.loads(text)) for text in old_parts[len(context.histories) :]]
        # Round-trip through JSON so the SDK sees exactly the values a replay would parse.
        fresh = [SdkEvent(**event) for event in json.loads(json.dumps(new_events))]
        for events, new in ((recorded, False), (fresh, True)):
            executor._is_processing_new_events = new
            for event in events:
                context.histories.append(event)
                executor.process_event(event)
                if executor.has_execution_completed:
                    return executor.get_orchestrator_state_str()
        state = executor.get_orchestrator_state_str()
        self._context, self._executor = context, executor
        return state


def session_for(func: Callable[..., Any]) -> Session | None:
    """A new session for an orchestrator function registered through the SDK, or None when the SDK's layout
    is not the one sessions rely on (the host then replays every episode in full)."""
    function = getattr(func, "orchestrator_function", None)
    if function is None or not _executor_layout_known():
        return None
    return Session(function, getattr(func, "_df_input_type", None))


def _executor_layout_known() -> bool:
    try:
        from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor
    except ImportError:
        return False
    needed = ("execute", "process_event", "get_orchestrator_state_str", "has_execution_completed")
    return all(hasattr(TaskOrchestrationExecutor, name) for name in needed)


class SessionPool:
    """The sessions of running instances, at most ``capacity``, the least recently used given up first."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._sessions: OrderedDict[str, tuple[str, Session | None]] = OrderedDict()  # by instance id

    def get(self, instance_id: str, execution_id: str, func: Callable[..., Any]) -> Session | None:
        """The session of this execution, made on first use (None when the SDK cannot keep one)."""
        if not self.capacity:
            return None
        kept = self._sessions.get(instance_id)
        if kept is not None and kept[0] == execution_id:
            self._sessions.move_to_end(instance_id)
            return kept[1]
        session = session_for(func)
        self._sessions[instance_id] = (execution_id, session)
        self._sessions.move_to_end(instance_id)
        if len(self._sessions) > self.capacity:
            self._sessions.popitem(last=False)
        return session

    def drop(self, instance_id: str) -> None:
        """Forget the instance's session (it finished, continued as new, was rewound or deleted)."""
        self._sessions.pop(instance_id, None)

    def clear(self) -> None:
        """Forget all: memory is being rebuilt from the file."""
        self._sessions.clear()

    def __len__(self) -> int:
        return len(self._sessions)
