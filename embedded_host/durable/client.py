"""The Durable client: start, query, raise events to, terminate, purge, restart and rewind instances.

What the extension's HTTP API, ``EmbeddedHost`` and the CLI call; the engine only runs instances. As in the
Durable Task Framework, the client writes through the store (an instance row and its ``ExecutionStarted``, an
event in an inbox) and then tells the engine, whose loop carries it out: ``admit`` a new instance, ``enqueue``
an event for a running one, ``delete_instances``, ``rewind_failed``, ``until_finished``. Used on the event-loop
thread, like the engine.
"""

from __future__ import annotations

import uuid
from typing import Any

from embedded_host.durable.engine import DurableEngine, execution_started
from embedded_host.durable.history import (
    HistoryEvent,
    event_raised,
    execution_resumed,
    execution_suspended,
    execution_terminated,
)
from embedded_host.durable.queries import InstanceQuery, page_of_ids, purge_selection
from embedded_host.durable.status import read_status
from embedded_host.durable.timeutil import iso_utc, now_utc, status_time

__all__ = ["TERMINAL_STATUSES", "DurableClient", "InstanceExistsError", "OrchestratorNotFoundError"]

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


class OrchestratorNotFoundError(LookupError):
    """``start`` named a function that is not an orchestrator of this app."""


class InstanceExistsError(RuntimeError):
    """``start`` named an instance id that is still running."""


class DurableClient:
    """The client operations on one engine's instances; answers are the extension's (status JSON, 202/404/410)."""

    def __init__(self, engine: DurableEngine) -> None:
        self._engine = engine
        self._store = engine.store
        self._conn = engine.conn
        self.entities = engine.entities  # signalling and reading entities
        self.outage = engine.outage  # a full disk: writes are refused until it has room again

    def start_instance(self, name: str, instance_id: str | None, input_text: str | None) -> str:
        """Create an instance (or overwrite a finished one) and queue its ``ExecutionStarted``."""
        if (refusal := self._engine.refusal_to_start(name)) is not None:
            raise OrchestratorNotFoundError(refusal)
        instance_id = instance_id or uuid.uuid4().hex
        execution_id = uuid.uuid4().hex
        now = now_utc()
        started = execution_started(now, name, instance_id, execution_id, input_text, None)
        with self._store.transaction():
            status = self._store.runtime_status(instance_id)
            if status is not None and status not in TERMINAL_STATUSES:
                raise InstanceExistsError(f"An Orchestration instance with the status {status} already exists.")
            if status is not None:  # a finished instance is overwritten and runs again, as in Azure
                self._store.purge(instance_id)
            self._store.create_instance(instance_id, name, input_text, execution_id, status_time(now))
            queued = self._store.deliver(instance_id, started)
        self._engine.admit(instance_id, name, execution_id, input_text, queued)
        return instance_id

    def raise_event(self, instance_id: str, name: str, input_text: str | None) -> int:
        """Queue an ``EventRaised``; returns the HTTP status the extension answers (202, 404, 410)."""
        return self._enqueue(instance_id, event_raised(iso_utc(now_utc()), name, input_text))

    def terminate(self, instance_id: str, reason: str | None) -> int:
        """Queue a termination; returns 202, 404 or 410 (already finished) as the extension does."""
        return self._enqueue(instance_id, execution_terminated(iso_utc(now_utc()), reason))

    def suspend(self, instance_id: str, reason: str | None) -> int:
        """Queue an ``ExecutionSuspended``; returns 202, 404 or 410 as the extension does."""
        return self._enqueue(instance_id, execution_suspended(iso_utc(now_utc()), reason))

    def resume(self, instance_id: str, reason: str | None) -> int:
        """Queue an ``ExecutionResumed``; returns 202, 404 or 410 as the extension does."""
        return self._enqueue(instance_id, execution_resumed(iso_utc(now_utc()), reason))

    def _enqueue(self, instance_id: str, ev: HistoryEvent) -> int:
        if self._engine.enqueue(instance_id, ev):
            return 202
        return 404 if self._store.runtime_status(instance_id) is None else 410

    def get_status(
        self,
        instance_id: str,
        *,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> dict[str, Any] | None:
        """The status JSON the extension returns, or None when the instance does not exist."""
        return read_status(
            self._conn,
            instance_id,
            show_history=show_history,
            show_history_output=show_history_output,
            show_input=show_input,
        )

    def query_instances(self, query: InstanceQuery) -> tuple[list[dict[str, Any]], str]:
        """One page of statuses matching ``query``, newest first, and the next page's token ('' at the end)."""
        ids, token = page_of_ids(self._conn, query)
        statuses = [read_status(self._conn, iid, show_input=query.show_input) for iid in ids]
        return [s for s in statuses if s is not None], token

    def purge(self, instance_id: str) -> int:
        """Delete a finished instance's state; returns how many instances were deleted (0 while it runs)."""
        if self._engine.is_running(instance_id):
            return 0
        return self._engine.delete_instances([instance_id])

    def purge_where(self, query: InstanceQuery) -> int:
        """Delete what a filtered purge selects on Azure Storage, running instances included (see queries.py)."""
        return self._engine.delete_instances(purge_selection(self._conn, query))

    def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        """Start the instance's orchestrator again with its original input; returns the new run's id.

        With ``new_instance_id`` false the same id is reused, which only works once the instance has finished
        (``InstanceExistsError`` otherwise). An unknown instance raises ``LookupError``.
        """
        row = self._store.instance(instance_id)
        if row is None:
            raise LookupError(f"No orchestration instance has the id '{instance_id[:100]}'.")
        return self.start_instance(row.name, None if new_instance_id else instance_id, row.input)

    def rewind(self, instance_id: str, reason: str | None) -> int:
        """Run a failed instance again from before its failures (see rewind.py); answers 202, 404 or 410.

        Failed children are rewound with it, all in one transaction. Raises ``RewindRefusedError`` when this
        host cannot rewind the instance (nothing is changed then).
        """
        status = self._store.runtime_status(instance_id)
        if status is None:
            return 404
        if status != "Failed":
            return 410
        self._engine.rewind_failed(instance_id, reason)
        return 202

    async def wait_for_completion(self, instance_id: str, timeout: float) -> dict[str, Any] | None:
        """Wait until the instance reaches a terminal status (or the timeout) and return its status."""
        status = self.get_status(instance_id)
        if status is None or status["runtimeStatus"] in TERMINAL_STATUSES:
            return status
        await self._engine.until_finished(instance_id, timeout)
        return self.get_status(instance_id)
