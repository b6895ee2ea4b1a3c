"""Read-only feeds for the monitor page: `GET /api/monitor/dead-letters` and `GET /api/monitor/undelivered-events`.

The page reads runs from the Durable HTTP API; what that API does not hold (questions that never became a
run, events no subscriber took) it reads here, so the same page works against a deployed app. Both routes
are `AuthLevel.FUNCTION` like the status route: message bodies are questions, which are not public.
"""

from __future__ import annotations

import json
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from config import get_settings
from providers.monitor_feeds import read_dead_letters, read_undelivered_events

__all__ = ["DEAD_LETTERS_FUNCTION", "DEAD_LETTERS_ROUTE", "UNDELIVERED_FUNCTION", "UNDELIVERED_ROUTE", "bp"]

DEAD_LETTERS_FUNCTION = "list_dead_letters"
DEAD_LETTERS_ROUTE = "monitor/dead-letters"
UNDELIVERED_FUNCTION = "list_undelivered_events"
UNDELIVERED_ROUTE = "monitor/undelivered-events"

bp = df.Blueprint()


def _json(data: dict[str, Any]) -> func.HttpResponse:
    # no-store: the feeds change all the time, and hold question text a shared cache should not keep.
    return func.HttpResponse(
        json.dumps(data, default=str), mimetype="application/json", headers={"Cache-Control": "no-store"}
    )


@bp.function_name(DEAD_LETTERS_FUNCTION)
@bp.route(route=DEAD_LETTERS_ROUTE, methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def list_dead_letters(req: func.HttpRequest) -> func.HttpResponse:
    return _json(read_dead_letters(get_settings()))


@bp.function_name(UNDELIVERED_FUNCTION)
@bp.route(route=UNDELIVERED_ROUTE, methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def list_undelivered_events(req: func.HttpRequest) -> func.HttpResponse:
    return _json(read_undelivered_events(get_settings()))
