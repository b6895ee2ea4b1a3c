"""Call app functions the way the Python worker does: by binding name, with the worker's own types.

Sync functions run in a thread pool (as the worker does) so they never block the host's event loop; async ones
run on the loop. Activity input and output go through the worker's ``ActivityTriggerConverter``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import secrets
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions import _abc as func_abc
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from embedded_host.functions.loader import FunctionSpec

__all__ = [
    "InvocationContext",
    "Out",
    "call_function",
    "decode_activity_input",
    "encode_activity_output",
    "new_traceparent",
]


def new_traceparent() -> str:
    """A fresh W3C traceparent (the host starts a trace when the caller sent none)."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class _TraceContext(func_abc.TraceContext):
    def __init__(self, traceparent: str, tracestate: str = "") -> None:
        self._traceparent = traceparent
        self._tracestate = tracestate

    @property
    def trace_parent(self) -> str:
        return self._traceparent

    @property
    def trace_state(self) -> str:
        return self._tracestate

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(func_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """The ``context`` argument of a function invocation."""

    def __init__(
        self, function_name: str, function_directory: Path, traceparent: str | None = None, tracestate: str = ""
    ) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = str(function_directory)
        self._trace = _TraceContext(traceparent or new_traceparent(), tracestate)
        self._retry = _RetryContext()
        self._tls = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._tls

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> func_abc.TraceContext:
        return self._trace

    @property
    def retry_context(self) -> func_abc.RetryContext:
        return self._retry


class Out(func.Out):
    """An output binding value holder (``func.Out[T]``)."""

    def __init__(self) -> None:
        self._value: Any = None
        self.was_set = False

    def set(self, val: Any) -> None:
        self._value = val
        self.was_set = True

    def get(self) -> Any:
        return self._value


def decode_activity_input(raw: str | None) -> Any:
    """Decode an activity's input JSON text exactly as the worker's converter does."""
    if raw is None:
        return None
    return ActivityTriggerConverter.decode(meta.Datum(type="json", value=raw), trigger_metadata=None)


def encode_activity_output(value: Any) -> str:
    """Encode an activity's return value into ``TaskCompleted.Result`` text, as the worker does."""
    datum = ActivityTriggerConverter.encode(value, expected_type=None)
    return str(datum.value)


async def call_function(
    spec: FunctionSpec,
    kwargs: Mapping[str, Any],
    *,
    executor: Executor | None,
    context: InvocationContext | None = None,
) -> Any:
    """Invoke a function with keyword arguments (binding names), sync ones off the event loop."""
    args = dict(kwargs)
    if spec.accepts_context:
        args["context"] = context or InvocationContext(spec.name, Path("."))
    if spec.is_async:
        return await spec.func(**args)
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(executor, functools.partial(ctx.run, spec.func, **args))
