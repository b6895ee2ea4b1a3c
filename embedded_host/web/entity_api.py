"""The entity routes of the Durable HTTP API (``entities/{name}/{key}``), as the extension answers them.

``POST ?op=NAME`` (or ``DELETE``, which signals ``delete``) queues a signal and answers 202; ``GET`` answers the
state with 200, or 404 when the entity does not exist. The SDK's ``signal_entity`` and ``read_entity_state``
call these under ``rpcBaseUrl``; the public webhook path serves the same handlers. Listing entities (``GET
entities/{name}``) is not implemented and says so with 501.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web

from embedded_host.durable.entities import EntityHost
from embedded_host.web.access import Handler
from embedded_host.web.responses import json_response as _json
from embedded_host.web.responses import problem as _problem

__all__ = ["add_entity_routes", "operation_input"]


class BadOperationInput(ValueError):
    """A signal body the extension answers 400 for."""


def operation_input(body: bytes, media_type: str) -> str | None:
    """The request's input text as the extension stores it: a JSON body re-serialized compactly (the SDK's
    client posts the input JSON-encoded twice, so its value arrives as a JSON string), any other body as a
    JSON string; no body, no input."""
    if not body:
        return None
    text = body.decode("utf-8", "replace")
    if media_type.lower() != "application/json":
        return json.dumps(text)
    try:
        return json.dumps(json.loads(text), separators=(",", ":"))
    except ValueError as exc:
        raise BadOperationInput(f"Could not parse JSON content: {exc}") from exc


def _invalid_key(key: str) -> bool:
    # The extension's SignalEntityAsync rejects these key characters.
    return any(c in "/\\#?" or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key)


class _EntityRoutes:
    def __init__(self, entities: EntityHost) -> None:
        self.entities = entities

    async def read(self, request: web.Request) -> web.Response:
        state = self.entities.read(request.match_info["name"], request.match_info["key"])
        if state is None:
            return web.Response(status=404)
        return web.Response(status=200, text=state, content_type="application/json")

    async def signal(self, request: web.Request) -> web.Response:
        name, key = request.match_info["name"], request.match_info["key"]
        operation = "delete" if request.method == "DELETE" else request.query.get("op", "")
        entities = self.entities
        if _invalid_key(key):
            return _json(400, {"Message": "Entity keys must not contain /, \\, #, ?, or control characters."})
        if not entities.knows(name):
            return _json(400, {"Message": entities.unknown_message(name)})
        body = await request.read()
        media = request.content_type if "Content-Type" in request.headers else ""
        try:
            input_text = operation_input(body, media)
        except BadOperationInput as exc:
            return _json(400, {"Message": str(exc)})
        entities.signal(name, key, operation, input_text)
        return web.Response(status=202)

    async def list_entities(self, request: web.Request) -> web.Response:
        return _problem(501, "Not Implemented", "The embedded host does not list entities.")


def add_entity_routes(
    app: web.Application, root: str, entities: EntityHost, guard: Callable[[Handler], Handler]
) -> None:
    """Add the entity routes under ``root`` (the RPC or webhook base path), each behind ``guard``."""
    routes = _EntityRoutes(entities)
    app.router.add_get(root + "/entities/{name}", guard(routes.list_entities))
    app.router.add_get(root + "/entities/{name}/{key}", guard(routes.read))
    app.router.add_post(root + "/entities/{name}/{key}", guard(routes.signal))
    app.router.add_delete(root + "/entities/{name}/{key}", guard(routes.signal))
