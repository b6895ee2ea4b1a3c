"""The host's HTTP surface: the app's HTTP functions, the Durable RPC API and the public status webhooks.

Two listeners, as the Functions host has them: the public one serves the app's routes and
``/runtime/webhooks/durabletask/`` (the URLs ``create_check_status_response`` hands out); a loopback-only one
serves the RPC routes (under ``/durabletask/``) that an unmodified ``DurableOrchestrationClient`` calls relative
to ``rpcBaseUrl``, so the SDK needs no key while the public Durable API does. Both take the same handlers, and
both check Host and Origin (see ``access``). Status codes follow the extension and the SDK's client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import azure.functions as func
from aiohttp import web
from aiohttp.typedefs import Middleware

from embedded_host.durable.client import (
    TERMINAL_STATUSES,
    DurableClient,
    InstanceExistsError,
    OrchestratorNotFoundError,
)
from embedded_host.durable.queries import InstanceQuery, parse_time
from embedded_host.durable.rewind import RewindRefusedError
from embedded_host.durable.timeutil import now_utc, status_time
from embedded_host.functions.bindings import RPC_PATH, WEBHOOK_PATH, Endpoints
from embedded_host.functions.invoker import InvocationContext, call_function
from embedded_host.functions.loader import FunctionSpec, LoadedApp
from embedded_host.outage import RETRY_AFTER_S, WriteOutage, cannot_write
from embedded_host.web.access import (
    KEY_HEADER,
    KEY_QUERY,
    AccessLevel,
    AccessPolicy,
    Handler,
    access_middleware,
    require_key,
    unauthorized,
)
from embedded_host.web.entity_api import add_entity_routes
from embedded_host.web.inputs import (
    BODY_READ_TIMEOUT_S,
    event_name_problem,
    instance_id_problem,
    reading_middleware,
    refused,
)
from embedded_host.web.responses import json_response as _json
from embedded_host.web.responses import problem as _problem
from embedded_host.web.responses import problem_with
from embedded_host.web.routing import RouteTemplate
from embedded_host.web.static_pages import add_static_pages

__all__ = ["MAX_BODY_BYTES", "build_rpc_app", "build_web_app"]

log = logging.getLogger("embedded_host.http")

MAX_BODY_BYTES = 1024 * 1024
CONTINUATION_HEADER = "x-ms-continuation-token"
_RUNNING = ("Pending", "Running", "ContinuedAsNew", "Suspended")


def _too_large(request: web.Request) -> web.Response:
    # Title and wording as the app's own 413 (triggers read the body themselves below this limit).
    return _problem(
        413, "Request body too large", f"The body is over the limit of {MAX_BODY_BYTES} bytes.", request.path
    )


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


class _BadPayload(ValueError):
    """A raise-event body the extension answers 400 for."""


def _event_text(body: bytes, content_type: str, *, from_sdk: bool) -> str | None:
    """A raise-event body as the ``EventRaised`` input (JSON text), as the extension reads it.

    The extension takes ``application/json`` only, any JSON value, and an empty body as null. The Python SDK's
    client posts ``json.dumps(data)`` as a JSON string (encoded twice): on its RPC route the inner text is
    the value, so ``wait_for_external_event`` gets what was passed (Azure hands the string over as is, quotes
    included). A string that is not JSON text inside is a plain string value.
    """
    if content_type.lower() != "application/json":
        raise _BadPayload("Only application/json request content is supported")
    if not body.strip():
        return None
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise _BadPayload("Invalid JSON content") from exc
    if from_sdk and isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return json.dumps(value)
        return value
    return json.dumps(value)


class _Durable:
    """Handlers for the Durable RPC and webhook routes (``rpc``: the loopback routes the SDK's client calls)."""

    def __init__(self, client: DurableClient, endpoints: Callable[[], Endpoints], *, rpc: bool = False) -> None:
        self.client = client
        self.endpoints = endpoints
        self.rpc = rpc

    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        instance_id = request.match_info.get("instance_id") or None
        if instance_id is not None and (invalid := instance_id_problem(instance_id)) is not None:
            return refused(invalid)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(request)
        try:
            instance_id = self.client.start_instance(name, instance_id, _input_text(body))
        except OrchestratorNotFoundError as exc:
            return _json(
                400, {"Message": "One or more of the arguments submitted is incorrect", "ExceptionMessage": str(exc)}
            )
        except InstanceExistsError as exc:
            return _json(409, {"Message": str(exc), "ExceptionMessage": str(exc)})
        payload = self.endpoints().management_urls(instance_id)
        return _json(202, payload, {"Location": payload["statusQueryGetUri"], "Retry-After": "1"})

    async def status(self, request: web.Request) -> web.Response:
        instance_id = request.match_info.get("instance_id", "")
        query = request.query
        if not instance_id:
            return self._list(request)
        status = self.client.get_status(
            instance_id,
            show_history=query.get("showHistory", "").lower() == "true",
            show_history_output=query.get("showHistoryOutput", "").lower() == "true",
            show_input=query.get("showInput", "true").lower() != "false",
        )
        if status is None:
            # The extension answers 404 with no body; the SDK then returns a falsy status object.
            return web.Response(status=404)
        if status["runtimeStatus"] in _RUNNING:
            location = self.endpoints().management_urls(instance_id)["statusQueryGetUri"]
            return _json(202, status, {"Location": location, "Retry-After": "1"})
        return _json(200, status)

    def _list(self, request: web.Request) -> web.Response:
        query = InstanceQuery.from_request(
            request.query, request.query.getall("runtimeStatus", []), request.headers.get(CONTINUATION_HEADER)
        )
        statuses, token = self.client.query_instances(query)
        # The extension always sends the header; it is empty on the last page.
        return _json(200, statuses, {CONTINUATION_HEADER: token})

    async def raise_event(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        if (invalid := event_name_problem(request.match_info["event"])) is not None:
            return refused(invalid)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(request)
        status = self.client.get_status(instance_id, show_input=False)
        if status is None:  # the instance is looked up before the body, as in the extension
            return web.Response(status=404)
        if status["runtimeStatus"] in TERMINAL_STATUSES:
            return web.Response(status=410)
        try:
            # aiohttp reports a default type when the header is missing; the extension sees none.
            media = request.content_type if "Content-Type" in request.headers else ""
            text = _event_text(body, media, from_sdk=self.rpc)
        except _BadPayload as exc:
            return _json(400, {"Message": str(exc)})
        return web.Response(status=self.client.raise_event(instance_id, request.match_info["event"], text))

    async def terminate(self, request: web.Request) -> web.Response:
        code = self.client.terminate(request.match_info["instance_id"], request.query.get("reason"))
        return web.Response(status=code)

    async def purge(self, request: web.Request) -> web.Response:
        # Since Durable extension 3.9.1 (PR 3311, January 2026) a purge by id checks the runtime status and
        # refuses an orchestration that has not finished; older extensions purged it, since the Azure Storage
        # tracking store deletes whatever exists. The message is the one durabletask-dotnet uses for it.
        instance_id = request.match_info["instance_id"]
        status = self.client.get_status(instance_id, show_input=False)
        if status is None:
            return web.Response(status=404)
        if status["runtimeStatus"] not in TERMINAL_STATUSES:
            return _json(
                412,
                {
                    "Message": "Only orchestrations in a terminal state can be purged, but the "
                    f"orchestration with instance ID {instance_id} has status "
                    f"{status['runtimeStatus']}"
                },
            )
        return _json(200, {"instancesDeleted": self.client.purge(instance_id)})

    async def purge_filtered(self, request: web.Request) -> web.Response:
        # As on Azure Storage: only terminal statuses of runtimeStatus count, and with none of them running
        # instances are purged too (queries.purge_selection).
        if parse_time(request.query.get("createdTimeFrom")) is None:
            return _json(400, {"Message": "Please provide value for 'createdTimeFrom' parameter."})
        query = InstanceQuery.from_request(request.query, request.query.getall("runtimeStatus", []))
        if query.created_to is None:  # the extension purges up to now when no end is given
            query = InstanceQuery(
                statuses=query.statuses, created_from=query.created_from, created_to=status_time(now_utc())
            )
        else:  # the purge filter has no id prefix, whatever the query string says
            query = InstanceQuery(statuses=query.statuses, created_from=query.created_from, created_to=query.created_to)
        deleted = self.client.purge_where(query)
        if not deleted:
            return web.Response(status=404)
        return _json(200, {"instancesDeleted": deleted})

    async def restart(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        flag = request.query.get("restartWithNewInstanceId", "").strip().lower()
        try:
            new_id = self.client.restart(instance_id, new_instance_id=flag != "false")
        except LookupError as exc:
            return _json(
                400,
                {"Message": "InstanceId does not match a valid orchestration instance.", "ExceptionMessage": str(exc)},
            )
        except InstanceExistsError as exc:
            return _json(
                409,
                {
                    "Message": "A non-terminal instance with this instance ID already exists.",
                    "ExceptionMessage": str(exc),
                },
            )
        payload = self.endpoints().management_urls(new_id)
        return _json(202, payload, {"Location": payload["statusQueryGetUri"], "Retry-After": "1"})

    async def suspend(self, request: web.Request) -> web.Response:
        code = self.client.suspend(request.match_info["instance_id"], request.query.get("reason"))
        return web.Response(status=code)

    async def resume(self, request: web.Request) -> web.Response:
        code = self.client.resume(request.match_info["instance_id"], request.query.get("reason"))
        return web.Response(status=code)

    async def rewind(self, request: web.Request) -> web.Response:
        try:
            code = self.client.rewind(request.match_info["instance_id"], request.query.get("reason"))
        except RewindRefusedError as exc:  # plain text: the SDK's client raises it as the message
            return web.Response(status=409, text=str(exc))
        return web.Response(status=code)

    def add_routes(self, app: web.Application, root: str, policy: AccessPolicy, level: AccessLevel) -> None:
        def guard(handler: Handler) -> Handler:
            return require_key(policy, level, handler)

        app.router.add_post(root + "/orchestrators/{name}", guard(self.start))
        app.router.add_post(root + "/orchestrators/{name}/{instance_id}", guard(self.start))
        app.router.add_get(root + "/instances", guard(self.status))
        app.router.add_get(root + "/instances/", guard(self.status))
        app.router.add_get(root + "/instances/{instance_id}", guard(self.status))
        app.router.add_delete(root + "/instances", guard(self.purge_filtered))
        app.router.add_delete(root + "/instances/", guard(self.purge_filtered))
        app.router.add_delete(root + "/instances/{instance_id}", guard(self.purge))
        app.router.add_post(root + "/instances/{instance_id}/restart", guard(self.restart))
        app.router.add_post(root + "/instances/{instance_id}/raiseEvent/{event}", guard(self.raise_event))
        app.router.add_post(root + "/instances/{instance_id}/terminate", guard(self.terminate))
        app.router.add_post(root + "/instances/{instance_id}/suspend", guard(self.suspend))
        app.router.add_post(root + "/instances/{instance_id}/resume", guard(self.resume))
        app.router.add_post(root + "/instances/{instance_id}/rewind", guard(self.rewind))
        add_entity_routes(app, root, self.client.entities, guard)


class _AppRoutes:
    """Dispatches ``/{routePrefix}/...`` to the app's HTTP functions."""

    def __init__(self, loaded: LoadedApp, client_json: Callable[[], str], executor: Any, policy: AccessPolicy) -> None:
        self.loaded = loaded
        self.client_json = client_json
        self.executor = executor
        self.policy = policy
        self.prefix = loaded.config.route_prefix
        self.routes = [(RouteTemplate.compile(f.route or f.name), f) for f in loaded.of_kind("http")]

    def _relative(self, path: str) -> str | None:
        path = path.strip("/")
        if not self.prefix:
            return path
        if path == self.prefix:
            return ""
        if path.lower().startswith(self.prefix.lower() + "/"):
            return path[len(self.prefix) + 1 :]
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
            return _problem(
                405, "Method Not Allowed", f"{request.method} is not allowed on {request.path}.", request.path
            )
        return _problem(404, "Not Found", f"No route for {request.path}.", request.path)

    async def _invoke(self, spec: FunctionSpec, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        level = _level(spec)
        if not self.policy.key_allows(request, level):
            return unauthorized(level)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(request)
        url, headers, query = request.url, dict(request.headers.items()), dict(request.query.items())
        if level != "anonymous":
            # On a keyed route the key is the host's business: the function never sees it, so it cannot
            # log it or put it in a span. (An anonymous route keeps `code`: it may be an OAuth callback's.)
            url = url.without_query_params(KEY_QUERY)
            query.pop(KEY_QUERY, None)
            headers = {k: v for k, v in headers.items() if k.lower() != KEY_HEADER}
        req = func.HttpRequest(
            method=request.method,
            url=str(url),
            headers=headers,
            params=query,
            route_params=params,
            body=body,
        )
        kwargs: dict[str, Any] = {spec.trigger_name: req}
        if spec.client_binding:
            kwargs[spec.client_binding] = self.client_json()
        context = InvocationContext(
            spec.name, self.loaded.app_dir, request.headers.get("traceparent"), request.headers.get("tracestate", "")
        )
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


_LEVELS: dict[str, AccessLevel] = {"anonymous": "anonymous", "function": "function", "admin": "admin"}


def _level(spec: FunctionSpec) -> AccessLevel:
    # "function" is the Functions default, and an unknown level is not an open door.
    return _LEVELS.get((spec.auth_level or "").lower(), "function")


def _storage_middleware(outage: WriteOutage) -> Middleware:
    """A write the state file refuses (a full disk) answers 503 with ``Retry-After``: nothing was changed."""

    @web.middleware
    async def refuse_when_full(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as exc:
            if not cannot_write(exc):
                raise
            outage.failed(exc)
            response = problem_with(
                {"retryAfter": RETRY_AFTER_S},
                503,
                "Storage unavailable",
                "The host cannot write its state file (the disk is full or failing); nothing was changed. "
                "Try again later.",
                request.path,
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            return response

    return refuse_when_full


def _reading(durable_root: str) -> Middleware:
    return reading_middleware(
        durable_roots=(durable_root,), max_body=MAX_BODY_BYTES, body_timeout_s=BODY_READ_TIMEOUT_S
    )


def build_web_app(
    loaded: LoadedApp,
    client: DurableClient,
    endpoints: Callable[[], Endpoints],
    executor: Any,
    policy: AccessPolicy,
    pages: Mapping[str, Path] | None = None,
) -> web.Application:
    """The public aiohttp application for one hosted app: its HTTP functions, the Durable webhooks, and any
    static ``pages`` (URL prefix → folder) served beside them."""
    middlewares = [access_middleware(policy), _reading(WEBHOOK_PATH), _storage_middleware(client.outage)]
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=middlewares)
    _Durable(client, endpoints).add_routes(app, WEBHOOK_PATH, policy, "system")
    add_static_pages(app, pages or {})
    routes = _AppRoutes(loaded, lambda: endpoints().client_binding_json(), executor, policy)
    # `[\s\S]` rather than `.`: a path with an encoded newline must reach the app (and its 404), not aiohttp's.
    app.router.add_route("*", r"/{tail:[\s\S]*}", routes.handle)
    return app


def build_rpc_app(client: DurableClient, endpoints: Callable[[], Endpoints], policy: AccessPolicy) -> web.Application:
    """The loopback-only application the SDK's client calls (``rpcBaseUrl``): no key, as in the Functions host."""
    middlewares = [access_middleware(policy), _reading(RPC_PATH), _storage_middleware(client.outage)]
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=middlewares)
    _Durable(client, endpoints, rpc=True).add_routes(app, RPC_PATH.rstrip("/"), policy, "anonymous")
    return app
