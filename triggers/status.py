"""`get_pipeline_status` (GET /api/pipeline/{instance_id}): runtime status, current step, result.

A completed answer that a re-index made stale says so (`stale`: the changed sources and the newer
run), read from the provenance store; the monitor page and `pipeline status` show it from here.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from contracts import ProblemDetails, Result, Staleness, StatusResponse
from providers.errors import ProviderError
from providers.factory import get_provenance
from triggers._http import json_response, problem_response
from triggers.routes import START_ROUTE, STATUS_ROUTE
from triggers.starting import is_instance_id

__all__ = ["FUNCTION_NAME", "ROUTE", "bp", "staleness", "status_view", "status_view_from_json"]

log = logging.getLogger(__name__)

FUNCTION_NAME = "get_pipeline_status"
ROUTE = STATUS_ROUTE

bp = df.Blueprint()


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


def status_view(status: DurableOrchestrationStatus) -> StatusResponse:
    """The public view of a Durable status: output parsed as a Result once completed."""
    runtime = status.runtime_status.value if status.runtime_status else "Unknown"
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    result = error = None
    if runtime == "Completed" and isinstance(status.output, dict):
        result = Result.model_validate(status.output)
    elif runtime in ("Failed", "Terminated") and status.output is not None:
        error = str(status.output)
    return StatusResponse(
        instance_id=status.instance_id,
        runtime_status=runtime,
        step=custom.get("step"),
        attempt=custom.get("attempt"),
        created_time=_iso(status.created_time),
        last_updated_time=_iso(status.last_updated_time),
        result=result,
        error=error,
        stale=staleness(status.instance_id) if result is not None else None,
    )


def staleness(instance_id: str) -> Staleness | None:
    """The answer's Stale event, if a re-index made it stale; an unreadable store leaves the status without it."""
    try:
        store = get_provenance()
        mark = store.stale_mark(instance_id) if store is not None else None
    except ProviderError as error:
        log.warning("cannot tell whether %s is stale: %s", instance_id, error.message)
        return None
    return None if mark is None else Staleness.model_validate(mark, from_attributes=True)


@bp.function_name(FUNCTION_NAME)
@bp.route(route=ROUTE, methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_pipeline_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params.get("instance_id", "")
    status = await client.get_status(instance_id) if is_instance_id(instance_id) else None
    if (status is None or status.runtime_status is None) and instance_id == START_ROUTE.rsplit("/", 1)[1]:
        # GET on the start route lands here (its route template also matches): say what HTTP says,
        # unless a run was really named "start" by its request_id.
        problem = ProblemDetails.of(405, "Method not allowed", f"/api/{START_ROUTE} takes POST.")
        response = problem_response(problem, req)
        response.headers["Allow"] = "POST"
        return response
    if status is None or status.runtime_status is None:
        return problem_response(
            ProblemDetails.of(404, "Unknown instance", f"No pipeline run has the id '{instance_id[:100]}'."), req
        )
    return json_response(status_view(status))


def status_view_from_json(raw: dict[str, Any]) -> StatusResponse:
    """The same view from the extension's status JSON (as the local state or the REST API holds it)."""
    return status_view(DurableOrchestrationStatus.from_json(raw))
