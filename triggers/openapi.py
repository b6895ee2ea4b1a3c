"""`openapi_document` (GET /api/openapi.json): the OpenAPI 3.1 document, generated from `contracts`."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel

from contracts import (
    COMPLETED_EVENT_TYPE,
    FAILED_EVENT_TYPE,
    STALE_EVENT_TYPE,
    FailedEventData,
    ProblemDetails,
    Question,
    Result,
    StaleEventData,
    StartResponse,
    StatusResponse,
)

__all__ = ["FUNCTION_NAME", "ROUTE", "bp", "build_document"]

FUNCTION_NAME = "openapi_document"
ROUTE = "openapi.json"

bp = df.Blueprint()

_REF = "#/components/schemas/{model}"


def _schemas(*models: type[BaseModel]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("ProblemDetails")}}}


@lru_cache(maxsize=1)
def build_document() -> dict[str, Any]:
    """The whole API: every route, its bodies and its problem responses."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Durable AI Pipeline",
            "version": "1.0.0",
            "description": "Event-driven question answering on Azure Durable Functions.",
        },
        "paths": {
            "/api/pipeline/start": {
                "post": {
                    "operationId": "start_pipeline",
                    "summary": "Ask a question; the run is started once per request_id.",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Question")}}},
                    "responses": {
                        "202": {
                            "description": "Accepted (or the existing run for this request_id).",
                            "headers": {
                                "Location": {
                                    "description": "The Durable status URL (status_query_get_uri), "
                                    "which carries its own key on Azure.",
                                    "schema": {"type": "string"},
                                }
                            },
                            "content": {"application/json": {"schema": _ref("StartResponse")}},
                        },
                        "400": _problem("The body is not a valid Question."),
                        "413": _problem("The body is larger than 64 KiB."),
                        "415": _problem("The body is not application/json."),
                        "503": _problem("Runs cannot be started now (a full disk): retry after Retry-After."),
                    },
                }
            },
            "/api/pipeline/{instance_id}": {
                "get": {
                    "operationId": "get_pipeline_status",
                    "summary": "Status of a run, its current step, and its result once completed.",
                    "parameters": [
                        {"name": "instance_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {
                            "description": "The run's status.",
                            "content": {"application/json": {"schema": _ref("StatusResponse")}},
                        },
                        "404": _problem("No run has this id."),
                        "405": _problem("`start` names the start route, which takes POST only (`Allow: POST`)."),
                    },
                }
            },
            "/api/monitor/dead-letters": {
                "get": {
                    "operationId": "list_dead_letters",
                    "summary": "Dead-lettered questions with their reason and original body (newest first).",
                    "responses": {"200": {"description": "`source` and `items`.", "content": {"application/json": {}}}},
                }
            },
            "/api/monitor/undelivered-events": {
                "get": {
                    "operationId": "list_undelivered_events",
                    "summary": "CloudEvents that no webhook took within the retry window (local event sink only).",
                    "responses": {
                        "200": {
                            "description": "`source`, `available` and `items`.",
                            "content": {"application/json": {}},
                        }
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi_document",
                    "summary": "This document.",
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                }
            },
        },
        "webhooks": _webhooks(),
        "components": {
            "schemas": _schemas(
                Question, StartResponse, StatusResponse, ProblemDetails, Result, FailedEventData, StaleEventData
            )
        },
    }


# Each CloudEvent type, and the model of its data.
_EVENTS = (
    (COMPLETED_EVENT_TYPE, "Result", "A run answered its question."),
    (FAILED_EVENT_TYPE, "FailedEventData", "A run failed for good: the step, the error kind, attempts made."),
    (
        STALE_EVENT_TYPE,
        "StaleEventData",
        "A re-index changed or removed a passage an earlier answer cited (subject: that answer's run).",
    ),
)


def _webhooks() -> dict[str, Any]:
    """The CloudEvents subscribers receive (OpenAPI 3.1 `webhooks`): structured mode, one per request."""
    hooks: dict[str, Any] = {}
    for event_type, data_model, summary in _EVENTS:
        envelope = {
            "type": "object",
            "required": ["specversion", "id", "type", "source", "subject", "time", "data"],
            "properties": {
                "specversion": {"const": "1.0"},
                "id": {"type": "string", "description": "Deterministic: a re-publish carries the same id."},
                "type": {"const": event_type},
                "source": {"type": "string", "description": "PIPELINE_EVENT_SOURCE"},
                "subject": {"type": "string", "description": "pipeline/{instance_id}"},
                "time": {"type": "string", "format": "date-time"},
                "datacontenttype": {"const": "application/json"},
                "traceparent": {"type": "string"},
                "data": _ref(data_model),
            },
        }
        hooks[event_type] = {
            "post": {
                "operationId": event_type.rsplit(".", 1)[1].lower() + "_event",
                "summary": summary,
                "requestBody": {"required": True, "content": {"application/cloudevents+json": {"schema": envelope}}},
                "responses": {"200": {"description": "Received (deduplicated on source + id)."}},
            }
        }
    return hooks


@bp.function_name(FUNCTION_NAME)
@bp.route(route=ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(build_document()), mimetype="application/json")
