"""The host's HTTP surface: the app's HTTP functions, the Durable RPC API and the public status webhooks.

The RPC routes (under ``/durabletask/``) are what an unmodified ``DurableOrchestrationClient`` calls relative to
``rpcBaseUrl``; the same handlers also serve ``/runtime/webhooks/durabletask/`` so the URLs in
``create_check_status_response`` work. Status codes follow the extension (see FACTS.md and the SDK's client).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func
from aiohttp import web

from .bindings import RPC_PATH, WEBHOOK_PATH, client_binding_json, management_payload
from .engine import DurableEngine, InstanceExistsError, OrchestratorNotFoundError
from .invoker import InvocationContext, call_function
from .loader import FunctionSpec, LoadedApp
from .routing import RouteTemplate

__all__ = ["MAX_BODY_BYTES", "build_web_app"]

log = logging.getLogger("embedded_host.http")

MAX_BODY_BYTES = 1024 * 1024
_RUNNING = ("Pending", "Running", "ContinuedAsNew")


def _problem(status: int, title: str, detail: str, instance: str | None = None) -> web.Response:
    """RFC 9457 problem details, in the same shape the app's own problems have (`instance`: the path)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance is not None:
        body["instance"] = instance
    return web.Response(status=status, text=json.dumps(body), content_type="application/problem+json")


def _too_large(request: web.Request) -> web.Response:
    # Title and wording as the app's own 413 (triggers read the body themselves below this limit).
    return _problem(413, "Request body too large", f"The body is over the limit of {MAX_BODY_BYTES} bytes.",
                    request.path)


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json", headers=headers)


def _input_text(body: bytes) -> str | None:
    """The orchestration input as JSON text: the SDK posts it JSON-encoded twice; other callers once."""
    if not body.strip():
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return json.dumps(body.decode("utf-8", "replace"))
    if isinstance(value, str):
        return value
    return json.dumps(value)


class _Durable:
    """Handlers for the Durable RPC and webhook routes."""

    def __init__(self, engine: DurableEngine, base_url: Callable[[], str], hub: str) -> None:
        self.engine = engine
        self.base_url = base_url
        self.hub = hub

    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        instance_id = request.match_info.get("instance_id") or None
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(request)
        try:
            instance_id = self.engine.start_instance(name, instance_id, _input_text(body))
        except OrchestratorNotFoundError as exc:
            return _json(400, {"Message": "One or more of the arguments submitted is incorrect",
                               "ExceptionMessage": str(exc)})
        except InstanceExistsError as exc:
            return _json(409, {"Message": str(exc), "ExceptionMessage": str(exc)})
        payload = management_payload(self.base_url(), self.hub, instance_id)
        return _json(202, payload, {"Location": payload["statusQueryGetUri"], "Retry-After": "1"})

    async def status(self, request: web.Request) -> web.Response:
        instance_id = request.match_info.get("instance_id", "")
        query = request.query
        if not instance_id:
            return _json(200, self.engine.list_statuses())
        status = self.engine.get_status(
            instance_id,
            show_history=query.get("showHistory", "").lower() == "true",
            show_history_output=query.get("showHistoryOutput", "").lower() == "true",
            show_input=query.get("showInput", "true").lower() != "false",
        )
        if status is None:
            # The extension answers 404 with no body; the SDK then returns a falsy status object.
            return web.Response(status=404)
        if status["runtimeStatus"] in _RUNNING:
            location = management_payload(self.base_url(), self.hub, instance_id)["statusQueryGetUri"]
            return _json(202, status, {"Location": location, "Retry-After": "1"})
        return _json(200, status)

    async def raise_event(self, request: web.Request) -> web.Response:
        body = await request.read()
        code = self.engine.raise_event(request.match_info["instance_id"], request.match_info["event"],
                                       _input_text(body))
        return web.Response(status=code)

    async def terminate(self, request: web.Request) -> web.Response:
        code = self.engine.terminate(request.match_info["instance_id"], request.query.get("reason"))
        return web.Response(status=code)

    async def purge(self, request: web.Request) -> web.Response:
        deleted = self.engine.purge(request.match_info["instance_id"])
        if not deleted:
            return web.Response(status=404)
        return _json(200, {"instancesDeleted": deleted})

    async def unsupported(self, request: web.Request) -> web.Response:
        return _problem(501, "Not Implemented", "The embedded host does not implement this Durable operation.")

    def add_routes(self, app: web.Application) -> None:
        for root in (RPC_PATH.rstrip("/"), WEBHOOK_PATH):
            app.router.add_post(root + "/orchestrators/{name}", self.start)
            app.router.add_post(root + "/orchestrators/{name}/{instance_id}", self.start)
            app.router.add_get(root + "/instances", self.status)
            app.router.add_get(root + "/instances/", self.status)
            app.router.add_get(root + "/instances/{instance_id}", self.status)
            app.router.add_delete(root + "/instances/{instance_id}", self.purge)
            app.router.add_post(root + "/instances/{instance_id}/raiseEvent/{event}", self.raise_event)
            app.router.add_post(root + "/instances/{instance_id}/terminate", self.terminate)
            for op in ("rewind", "suspend", "resume", "restart"):
                app.router.add_post(root + "/instances/{instance_id}/" + op, self.unsupported)


class _AppRoutes:
    """Dispatches ``/{routePrefix}/...`` to the app's HTTP functions."""

    def __init__(self, loaded: LoadedApp, client_json: Callable[[], str], executor: Any) -> None:
        self.loaded = loaded
        self.client_json = client_json
        self.executor = executor
        self.prefix = loaded.config.route_prefix
        self.routes = [(RouteTemplate.compile(f.route or f.name), f) for f in loaded.of_kind("http")]

    def _relative(self, path: str) -> str | None:
        path = path.strip("/")
        if not self.prefix:
            return path
        if path == self.prefix:
            return ""
        if path.lower().startswith(self.prefix.lower() + "/"):
            return path[len(self.prefix) + 1:]
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        relative = self._relative(request.path)
        if relative is None:
            return _problem(404, "Not Found", f"No route for {request.path}.", request.path)
        method_mismatch = False
        for template, spec in self.routes:
            params = template.match(relative)
            if params is None:
                continue
            if request.method.upper() not in spec.methods:
                method_mismatch = True
                continue
            return await self._invoke(spec, request, params)
        if method_mismatch:
            return _problem(405, "Method Not Allowed", f"{request.method} is not allowed on {request.path}.",
                            request.path)
        return _problem(404, "Not Found", f"No route for {request.path}.", request.path)

    async def _invoke(self, spec: FunctionSpec, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(request)
        req = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers={k: v for k, v in request.headers.items()},
            params={k: v for k, v in request.query.items()},
            route_params=params,
            body=body,
        )
        kwargs: dict[str, Any] = {spec.trigger_name: req}
        if spec.client_binding:
            kwargs[spec.client_binding] = self.client_json()
        context = InvocationContext(spec.name, self.loaded.app_dir, request.headers.get("traceparent"),
                                    request.headers.get("tracestate", ""))
        try:
            result = await call_function(spec, kwargs, executor=self.executor, context=context)
        except Exception:
            log.exception("function '%s' failed", spec.name)
            return web.Response(status=500)
        return _to_web_response(result)


def _to_web_response(result: Any) -> web.Response:
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items()}
        if not any(k.lower() == "content-type" for k in headers):
            mimetype = result.mimetype or "text/plain"
            headers["Content-Type"] = f"{mimetype}; charset={result.charset}" if result.charset else mimetype
        return web.Response(status=result.status_code, body=result.get_body(), headers=headers)
    if result is None:
        return web.Response(status=204)
    if isinstance(result, bytes | str):
        return web.Response(status=200, body=result if isinstance(result, bytes) else result.encode())
    return _json(200, result)


def build_web_app(
    loaded: LoadedApp, engine: DurableEngine, base_url: Callable[[], str], executor: Any
) -> web.Application:
    """The aiohttp application for one hosted app."""
    hub = loaded.config.hub_name
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    _Durable(engine, base_url, hub).add_routes(app)
    routes = _AppRoutes(loaded, lambda: client_binding_json(base_url(), hub), executor)
    # `[\s\S]` rather than `.`: a path with an encoded newline must reach the app (and its 404), not aiohttp's.
    app.router.add_route("*", r"/{tail:[\s\S]*}", routes.handle)
    return app
