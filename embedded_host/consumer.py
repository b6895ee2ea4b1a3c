"""Dispatch local-queue messages to the app's Service Bus trigger functions (peek-lock, complete or abandon).

Success completes the message and, in the same transaction, sends what the function set on its Service Bus
output bindings; an exception abandons it (delivery count + 1) until the queue dead-letters it.

When the state file refuses writes (a full disk), nothing can be received; a settlement that cannot be written
waits in memory and is retried before the next receive, so a message is never completed unless its function
succeeded, and an abandoned one is redelivered as soon as the disk has room (not only when its lock expires).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func
from azure.functions.servicebus import ServiceBusMessage

from .invoker import InvocationContext, Out, call_function
from .loader import FunctionSpec, LoadedApp
from .local_queue import LocalQueue, QueueMessage
from .outage import WriteOutage, cannot_write

__all__ = ["QueueConsumer"]

log = logging.getLogger("embedded_host.queue")


def _service_bus_message(msg: QueueMessage) -> ServiceBusMessage:
    props = dict(msg.application_properties)
    metadata = {
        "MessageId": msg.message_id,
        "DeliveryCount": msg.delivery_count,
        "ContentType": msg.content_type,
        "CorrelationId": msg.correlation_id,
        "EnqueuedTimeUtc": msg.enqueued_time_utc.isoformat(),
        "LockToken": msg.lock_token,
        "SequenceNumber": msg.seq,
        "ApplicationProperties": props,
        "UserProperties": props,
    }
    return ServiceBusMessage(
        body=msg.body,
        trigger_metadata=metadata,
        application_properties=props,
        content_type=msg.content_type,
        correlation_id=msg.correlation_id,
        delivery_count=msg.delivery_count,
        enqueued_time_utc=msg.enqueued_time_utc,
        locked_until=msg.locked_until_utc,
        lock_token=msg.lock_token,
        message_id=msg.message_id,
        sequence_number=msg.seq,
        user_properties=props,
    )


def _outgoing(value: Any) -> list[tuple[bytes | str, dict[str, Any] | None, str | None]]:
    """What an output binding value sends: str/bytes bodies, a list of them, or a ServiceBusMessage."""
    if value is None:
        return []
    if isinstance(value, list):
        return [m for item in value for m in _outgoing(item)]
    if isinstance(value, bytes | str):
        return [(value, None, None)]
    if isinstance(value, func.ServiceBusMessage):
        return [(value.get_body(), dict(value.application_properties or {}), value.content_type)]
    return [(json.dumps(value), None, "application/json")]


class QueueConsumer:
    """One polling loop per Service Bus trigger function."""

    def __init__(
        self,
        loaded: LoadedApp,
        queue_factory: Callable[[str], LocalQueue],
        client_json: Callable[[], str],
        executor: Any,
        outage: WriteOutage,
        *,
        concurrency: int = 4,
        poll_s: float = 0.1,
    ) -> None:
        self.loaded = loaded
        self.queue_factory = queue_factory
        self.client_json = client_json
        self.executor = executor
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.outage = outage
        self._unsettled: list[Callable[[], object]] = []  # settlements the disk refused, oldest first
        self._refusals = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._wake = asyncio.Event()

    def start(self) -> None:
        for spec in self.loaded.of_kind("serviceBus"):
            self._tasks.append(asyncio.create_task(self._loop(spec), name=f"queue-{spec.name}"))

    def poke(self) -> None:
        """Look at the queues now (a message was sent in this process)."""
        self._wake.set()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop receiving; let in-flight messages finish (an unfinished one's lock expires and it is redelivered)."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._inflight:
            _done, pending = await asyncio.wait(set(self._inflight), timeout=grace_s)
            for task in pending:
                task.cancel()

    async def _loop(self, spec: FunctionSpec) -> None:
        queue = self.queue_factory(spec.queue_name or "")
        slots = asyncio.Semaphore(self.concurrency)
        while not self._stopping:
            await slots.acquire()
            try:
                self._settle_waiting()
                messages = queue.receive(1)
                self._refusals = 0
            except Exception as exc:
                messages = []
                if not cannot_write(exc):
                    log.exception("receive from '%s' failed", queue.name)
                else:
                    self.outage.failed(exc)
                    self._refusals += 1
            if not messages:
                slots.release()
                self._wake.clear()
                wait = self.outage.backoff(self._refusals) if self._refusals else self.poll_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            task = asyncio.create_task(self._handle(spec, queue, messages[0]))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            task.add_done_callback(lambda _task: slots.release())

    async def _handle(self, spec: FunctionSpec, queue: LocalQueue, msg: QueueMessage) -> None:
        outs = {binding.name: Out() for binding in spec.outputs}
        kwargs: dict[str, Any] = {spec.trigger_name: _service_bus_message(msg), **outs}
        if spec.client_binding:
            kwargs[spec.client_binding] = self.client_json()
        traceparent = msg.application_properties.get("traceparent") or msg.application_properties.get("Diagnostic-Id")
        context = InvocationContext(spec.name, self.loaded.app_dir, str(traceparent) if traceparent else None)
        try:
            await call_function(spec, kwargs, executor=self.executor, context=context)
        except Exception as exc:
            log.warning(
                "function '%s' failed on message %s (delivery %d): %s",
                spec.name,
                msg.message_id,
                msg.delivery_count,
                exc,
            )
            error = f"{type(exc).__name__}: {exc}"
            self._settle(lambda: queue.abandon(msg, error))
            return
        outputs = []
        for binding in spec.outputs:
            for body, props, ctype in _outgoing(outs[binding.name].get()):
                outputs.append((binding.queue_name, body, props, ctype))
        self._settle(lambda: queue.complete(msg, outputs))

    def _settle(self, settlement: Callable[[], object]) -> None:
        """Complete or abandon now; if the disk refuses, keep it for `_settle_waiting` (the lock is still ours)."""
        try:
            settlement()
        except Exception as exc:
            if not cannot_write(exc):
                raise
            self.outage.failed(exc)
            self._unsettled.append(settlement)

    def _settle_waiting(self) -> None:
        """Retry the settlements a full disk refused, in order; raises (keeping the rest) while it still does."""
        while self._unsettled:
            try:
                self._unsettled[0]()
            except Exception as exc:
                if cannot_write(exc):
                    raise
                log.exception("settling a message failed")  # its lock expires: it is delivered again
            self._unsettled.pop(0)
