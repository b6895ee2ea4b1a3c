"""`start_pipeline` (POST /api/pipeline/start): validate, derive the instance id, start once, 202."""

from __future__ import annotations

from urllib.parse import urlsplit

import azure.durable_functions as df
import azure.functions as func
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from contracts import ProblemDetails, Question, StartResponse
from telemetry import starter_span
from triggers._http import BodyRejected, field_problems, json_response, problem_response, read_json_body
from triggers.routes import START_ROUTE, status_url
from triggers.starting import StartUnavailable, instance_id_for, invocation_traceparent, start_once

__all__ = ["FUNCTION_NAME", "ROUTE", "bp"]

FUNCTION_NAME = "start_pipeline"
ROUTE = START_ROUTE

bp = df.Blueprint()


@bp.function_name(FUNCTION_NAME)
@bp.route(route=ROUTE, methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_pipeline(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, context: func.Context
) -> func.HttpResponse:
    # The host's trace context for this invocation continues the caller's `traceparent` when there is one.
    incoming = req.headers.get("traceparent") or invocation_traceparent(context)
    with starter_span(
        "POST /api/pipeline/start",
        kind=SpanKind.SERVER,
        traceparent=incoming,
        attributes={
            "http.request.method": "POST",
            "http.route": f"/api/{ROUTE}",
            "url.path": urlsplit(req.url).path,  # no query: function keys travel there
            "url.scheme": urlsplit(req.url).scheme,
        },
    ) as span:
        try:
            question = Question.model_validate(read_json_body(req))
        except BodyRejected as rejected:
            span.set_attribute("http.response.status_code", rejected.problem.status)
            return problem_response(rejected.problem, req)
        except ValidationError as invalid:
            span.set_attribute("http.response.status_code", 400)
            problem = ProblemDetails.of(
                400, "Invalid question", "The body is not a valid Question.", errors=field_problems(invalid)
            )
            return problem_response(problem, req)

        instance_id = instance_id_for(question)
        try:
            outcome = await start_once(client, question, instance_id, span=span, incoming=incoming, source="http")
        except StartUnavailable as unavailable:
            span.set_attribute("http.response.status_code", 503)
            response = problem_response(ProblemDetails.of(503, "Cannot start now", str(unavailable)), req)
            response.headers["Retry-After"] = str(unavailable.retry_after)
            return response
        links = client.get_client_response_links(req, instance_id)
        body = StartResponse(
            instance_id=instance_id,
            status=outcome.runtime_status,
            created=outcome.created,
            status_url=status_url(req.url, instance_id),
            status_query_get_uri=links["statusQueryGetUri"],
            send_event_post_uri=links.get("sendEventPostUri"),
            terminate_post_uri=links.get("terminatePostUri"),
            purge_history_delete_uri=links.get("purgeHistoryDeleteUri"),
        )
        span.set_attribute("http.response.status_code", 202)
        # `Location` is the Durable status URL: on Azure it carries the extension's own key (`code=`), so a
        # client that follows it gets the status; `status_url` is a function-key route and would answer 401.
        headers = {"Location": body.status_query_get_uri, "Retry-After": "1"}
        return json_response(body, status=202, headers=headers)
