"""Sub-orchestrations: the parent/child link, the child's default instance id and the completion it sends back.

Semantics follow the Durable Task Framework, which the extension runs on:

- the parent's history records ``SubOrchestrationInstanceCreated`` (EventId = the task id, the child's name,
  instance id and input); the child is an instance of its own, whose ``ExecutionStarted`` carries
  ``ParentInstance`` (the parent's name, instance, execution and the task id);
- a child started without an instance id is named ``"{parent execution id}:{task id}"`` (DTFx's
  ``CreateSubOrchestrationInstanceCore``; the extension passes a missing id through to it), so a replay after a
  crash names it the same again;
- when the child ends, the parent gets ``SubOrchestrationInstanceCompleted`` (its output) or
  ``SubOrchestrationInstanceFailed`` (failed or terminated), with ``TaskScheduledId`` = that task id.

The link lives in its own table (``sub_orchestrations``, store.py), written in the engine's single transaction
together with the child's instance row and the parent's history, so a kill -9 can neither lose a child nor
create it twice.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from embedded_host.durable.history import (
    ParentInstance,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceFailed,
    sub_orchestration_completed,
    sub_orchestration_failed,
)

__all__ = ["ParentLink", "completion_event", "default_instance_id"]


class ParentLink(NamedTuple):
    """Where a child's result goes: the parent instance, the execution that asked, and its task id."""

    instance_id: str
    execution_id: str
    name: str
    task_id: int

    def as_parent_instance(self) -> ParentInstance:
        """The ``ParentInstance`` of the child's ``ExecutionStarted`` (DTFx ``ParentInstance``)."""
        return {
            "Name": self.name,
            "Version": "",
            "TaskScheduleId": self.task_id,
            "OrchestrationInstance": {"InstanceId": self.instance_id, "ExecutionId": self.execution_id},
        }


def default_instance_id(parent_execution_id: str, task_id: int) -> str:
    """The child id DTFx picks when the orchestrator gives none."""
    return f"{parent_execution_id}:{task_id}"


def completion_event(
    link: ParentLink, status: str, output_text: str | None, failure: str | None, stamp: str
) -> SubOrchestrationInstanceCompleted | SubOrchestrationInstanceFailed:
    """What the parent's inbox gets when the child ends (a terminated child counts as failed, as in DTFx)."""
    if status == "Completed":
        return sub_orchestration_completed(stamp, link.task_id, output_text)
    if status == "Terminated":
        reason = f"The sub-orchestration was terminated: {failure or 'no reason given'}"
        return sub_orchestration_failed(stamp, link.task_id, reason, None)
    # Details in the shape this host gives a failed activity's (the child's failure text is all there is).
    return sub_orchestration_failed(
        stamp, link.task_id, failure or "The sub-orchestration failed.", json.dumps({"Message": failure})
    )
