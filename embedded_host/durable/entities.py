"""Durable entities: their state and request queues in the engine's SQLite file, and the runner of batches.

An entity is a row in ``entities`` (its state as the JSON text the entity function answered; no row = does
not exist) and a FIFO of requests in ``entity_requests``. Orchestrators enqueue requests through the engine
(an ``EventSent`` of their episode), clients through the HTTP API. The engine's loop calls :meth:`run` inside
its tick transaction: each entity with queued requests gets one batch, run through the app's entity function,
and the new state, the removal of the batch's requests and the answers to calling orchestrations (their
inbox rows) commit together with the rest of the tick. A kill -9 before that commit leaves the requests
queued and the state as it was, so the batch runs again from the same state; after it, nothing repeats.

Entities are serialized per id because only this loop runs them, one batch at a time. The entity function
runs on the loop thread, like orchestrator episodes: the SDK's entity handler is synchronous, and running it
inside the transaction is what makes the state change and the answers atomic.
"""

from __future__ import annotations

import inspect
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from embedded_host.durable.entity_protocol import (
    batch_context,
    request_message,
    response_event,
    scheduler_id,
    split_scheduler_id,
)
from embedded_host.durable.history import EventSent, HistoryEvent, ScheduledEvent, is_event_sent
from embedded_host.durable.store import DurableStore
from embedded_host.durable.timeutil import iso_utc, now_utc
from embedded_host.functions.config import HostConfigError
from embedded_host.functions.loader import FunctionSpec, LoadedApp

__all__ = ["EntityHost", "check_entities"]

log = logging.getLogger("embedded_host.durable.entities")

# Operations per entity function call; more wait for the next tick, so one busy entity cannot hold the loop.
MAX_BATCH = 100

# (instance id, event) → the engine queues the event for the instance (the HTTP status code is ignored)
Deliver = Callable[[str, HistoryEvent], object]


def check_entities(app: LoadedApp) -> dict[str, FunctionSpec]:
    """The app's entity functions by lowercased entity name; refuses what the host cannot run faithfully."""
    entities: dict[str, FunctionSpec] = {}
    for spec in app.of_kind("entity"):
        name = (spec.entity_name or spec.name).lower()
        user = getattr(spec.func, "entity_function", spec.func)
        if spec.is_async or _is_coroutine_function(user):
            raise HostConfigError(
                f"entity function '{spec.name}' is async: the Durable Python SDK runs entity functions "
                "synchronously (Entity.handle never awaits), so its operations would never run; make it a def"
            )
        if name in entities:
            raise HostConfigError(
                f"entity functions '{entities[name].name}' and '{spec.name}' both serve the entity '{name}' "
                "(entity names are case-insensitive)"
            )
        entities[name] = spec
    return entities


def _is_coroutine_function(func: Any) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)


class EntityHost:
    """The entity side of the engine: enqueue requests, run batches, read state. Used on the loop thread."""

    def __init__(self, functions: dict[str, FunctionSpec], conn: sqlite3.Connection, wake: Callable[[], None]) -> None:
        self._functions = functions  # from check_entities
        self._store = DurableStore(conn)
        self._wake = wake
        self.ready: set[str] = set()  # entity ids with queued requests
        self.batches = 0

    def recover(self) -> None:
        """Rebuild the set of entities with work from the file (after a restart or a rolled-back tick)."""
        self.ready = self._store.entities_with_requests()
        if self.ready:
            self._wake()

    def knows(self, name: str) -> bool:
        return name.lower() in self._functions

    def unknown_message(self, name: str) -> str:
        """The extension's words for an entity name no function serves."""
        known = "', '".join(self._functions)
        extra = (
            f"The following are the known entity functions: '{known}'."
            if known
            else "No entity functions are currently registered!"
        )
        return (
            f"The function '{name}' doesn't exist, is disabled, or is not an entity function. Additional info: {extra}"
        )

    def missing_target(self, scheduled: list[ScheduledEvent]) -> str | None:
        """Why an episode's entity messages cannot be sent (an entity no function serves), or None."""
        for ev in scheduled:
            if is_event_sent(ev):
                name, _key = split_scheduler_id(ev["InstanceId"])
                if not self.knows(name):
                    return self.unknown_message(name)
        return None

    # -- requests ----------------------------------------------------------------------------------------------
    def send(self, ev: EventSent) -> None:
        """Queue the request of an orchestrator's ``EventSent`` (inside the engine's tick transaction)."""
        self._enqueue(ev["InstanceId"], ev["Input"])

    def signal(self, name: str, key: str, operation: str, input_text: str | None) -> None:
        """A client's signal (HTTP API); committed at once, as the extension acknowledges after queueing."""
        message = request_message(operation, input_text, signal=True, parent=None)
        self._enqueue(scheduler_id(name, key), json.dumps(message))
        self._wake()

    def _enqueue(self, entity_id: str, request_text: str) -> None:
        self._store.queue_request(entity_id, request_text)
        self.ready.add(entity_id)

    def read(self, name: str, key: str) -> str | None:
        """The entity's state as JSON text, or None when it does not exist."""
        return self._store.entity(scheduler_id(name, key))[1]

    # -- batches -----------------------------------------------------------------------------------------------
    def run(self, deliver: Deliver) -> None:
        """Run one batch for every entity with queued requests (inside the engine's tick transaction)."""
        ready, self.ready = self.ready, set()
        for entity_id in sorted(ready):
            requests, more = self._store.take_requests(entity_id, MAX_BATCH)
            if more:
                self.ready.add(entity_id)
            if requests:
                self._run_batch(entity_id, requests, deliver)
        if self.ready:
            self._wake()

    def _run_batch(self, entity_id: str, requests: list[dict[str, Any]], deliver: Deliver) -> None:
        self.batches += 1
        exists, state = self._store.entity(entity_id)
        stamp = iso_utc(now_utc())
        answer = self._call(entity_id, exists, state, requests)
        if isinstance(answer, str):  # the function failed as a whole: the state stays, every caller hears why
            log.warning("entity %s: a batch of %d operations failed: %s", entity_id, len(requests), answer)
            results = [_Outcome(json.dumps(answer), True)] * len(requests)
        else:
            results = answer.results
            if answer.exists:
                self._store.save_entity(entity_id, answer.state, stamp)
            elif exists:  # destructed: the extension no longer reports the entity
                self._store.delete_entity(entity_id)
        for request, (result, is_error) in zip(requests, results, strict=True):
            if not request.get("signal") and request.get("parent"):
                deliver(
                    str(request["parent"]), response_event(str(request["id"]), result, is_error=is_error, stamp=stamp)
                )

    def _call(self, entity_id: str, exists: bool, state: str | None, requests: list[dict[str, Any]]) -> _Batch | str:
        """Call the entity function: its results and the entity afterwards, or why the whole call failed."""
        name, key = split_scheduler_id(entity_id)
        spec = self._functions.get(name)
        if spec is None:
            return self.unknown_message(name)
        try:
            answer = spec.func(**{spec.trigger_name: batch_context(name, key, exists, state, requests)})
            parsed = json.loads(answer)
            results = parsed["results"]
            if len(results) != len(requests):
                raise ValueError(f"it answered {len(results)} results for {len(requests)} operations")
        except Exception as exc:  # user errors inside an operation are results; this is the handler failing
            return f"Entity function '{spec.name}' failed: {type(exc).__name__}: {exc}"
        outcome = [_Outcome(r.get("result"), bool(r.get("isError"))) for r in results]
        return _Batch(outcome, bool(parsed.get("entityExists")), parsed.get("entityState"))


class _Outcome(NamedTuple):
    """One operation's answer: its result (JSON text) and whether it is an error."""

    result: str | None
    is_error: bool


@dataclass(frozen=True, slots=True)
class _Batch:
    """What the entity function answered for a batch: the results, and whether and how the entity exists."""

    results: list[_Outcome]
    exists: bool
    state: str | None
