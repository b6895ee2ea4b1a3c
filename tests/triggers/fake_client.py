"""An in-memory stand-in for `DurableOrchestrationClient` with the extension's start semantics.

Like the real extension, `start_new` silently replaces a finished instance and fails for a
running one; the starters must therefore never rely on `start_new` alone for idempotency.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import azure.durable_functions as df


class FakeDurableClient:
    def __init__(self, *, start_delay: float = 0.0) -> None:
        self.instances: dict[str, dict[str, Any]] = {}
        self.starts: list[tuple[str, str, Any]] = []
        self.start_delay = start_delay

    async def get_status(self, instance_id: str) -> Any:
        instance = self.instances.get(instance_id)
        if instance is None:
            return SimpleNamespace(runtime_status=None, instance_id=None)
        return SimpleNamespace(
            instance_id=instance_id,
            runtime_status=df.OrchestrationRuntimeStatus(instance["status"]),
            custom_status=instance.get("custom_status"),
            output=instance.get("output"),
            created_time=None,
            last_updated_time=None,
        )

    async def start_new(self, name: str, instance_id: str, client_input: Any) -> str:
        await asyncio.sleep(self.start_delay)
        existing = self.instances.get(instance_id)
        if existing and existing["status"] in ("Pending", "Running"):
            raise Exception(f"An instance with ID '{instance_id}' already exists.")
        self.starts.append((name, instance_id, client_input))
        self.instances[instance_id] = {"status": "Pending", "input": client_input}
        return instance_id

    def get_client_response_links(self, request: Any, instance_id: str) -> dict[str, str]:
        base = "http://localhost:7071/runtime/webhooks/durabletask/instances/" + instance_id
        return {
            "id": instance_id,
            "statusQueryGetUri": base,
            "sendEventPostUri": base + "/raiseEvent/{eventName}",
            "terminatePostUri": base + "/terminate?reason={text}",
            "purgeHistoryDeleteUri": base,
        }


def invocation_context(traceparent: str = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01") -> Any:
    """The `context` argument as the host passes it: every invocation has a trace context."""
    trace = SimpleNamespace(trace_parent=traceparent, trace_state="", attributes={})
    return SimpleNamespace(trace_context=trace, invocation_id="inv-1", function_name="f")
