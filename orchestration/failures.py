"""Read a failed step's error back, whichever backend kept the failure.

On Azure Storage the Python SDK raises a failed task as `Exception(f"{Reason} \\n {Details}")`, and the
activity's marked message is in that text. The Durable Task Scheduler keeps a failure only as structured
failure details (its gRPC `TaskFailureDetails`), so the extension hands the orchestrator a `TaskFailed`
event with `Reason` and `Details` null and a `FailureDetails` object, and the SDK raises `"None \\n None"`.
The details are in the orchestrator's own history, so reading them is as deterministic as the rest of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.history import HistoryEventType

from contracts import StepError

__all__ = ["failure_details", "step_error"]


def failure_details(context: df.DurableOrchestrationContext, task_id: int | None) -> Mapping[str, Any] | None:
    """The failure details of the `TaskFailed` event that ended task ``task_id``, if it carries any."""
    if task_id is None:
        return None
    for event in reversed(context.histories):
        if event.event_type == HistoryEventType.TASK_FAILED and getattr(event, "TaskScheduledId", None) == task_id:
            details = getattr(event, "FailureDetails", None) or getattr(event, "failureDetails", None)
            return details if isinstance(details, Mapping) else None
    return None


def step_error(context: df.DurableOrchestrationContext, task: Any, failure: Exception) -> StepError:
    """The error a failed activity task carried, from the SDK's exception and its history event."""
    return StepError.from_failure(str(failure), failure_details(context, getattr(task, "id", None)))
