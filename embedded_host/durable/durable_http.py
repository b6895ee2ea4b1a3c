"""Durable HTTP (``context.call_http``): the host performs the request and hands back a ``DurableHttpResponse``.

The extension runs a ``CallHttp`` action as a built-in activity (``BuiltIn::HttpActivity``): history records
``TaskScheduled`` with that name and the request as input, then ``TaskCompleted`` whose result is the response
as ``{"statusCode", "headers", "content"}``. The embedded host does the same with one task per call, which
is what the Python SDK counts (one task id per ``call_http``).

202 polling (the extension's default ``asynchronousPatternEnabled``): while the answer is ``202 Accepted`` with
a ``Location``, wait ``Retry-After`` seconds (30 s when absent, the extension's default) and GET that location,
without the ``x-functions-key`` header, as the extension does. The polling happens inside the one task, so a
kill -9 mid-poll sends the first request again after the restart (at-least-once, like any activity).

Managed-identity token sources need an Azure identity endpoint that does not exist locally: an orchestrator
that passes ``token_source`` is refused at start-up (:func:`token_source_users`), and a request that still
carries one fails its task with that reason rather than being sent without its token.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = ["HTTP_ACTIVITY", "DurableHttpError", "perform", "token_source_users"]

HTTP_ACTIVITY = "BuiltIn::HttpActivity"
_DEFAULT_POLL_S = 30.0
_REQUEST_TIMEOUT_S = 100.0  # .NET HttpClient's default, which the extension's request uses
_MAX_POLL_WAIT_S = 300.0


class DurableHttpError(Exception):
    """A durable HTTP request that cannot be made (the orchestrator sees it as the task's failure)."""


async def perform(raw_input: str | None, *, client: httpx.AsyncClient | None = None) -> dict[str, Any]:
    """Send the ``DurableHttpRequest`` (JSON text), follow 202 polling, return the ``DurableHttpResponse``."""
    import httpx  # here: few apps call_http, and httpx with its TLS set-up costs every start-up time

    request = json.loads(raw_input or "null")
    if not isinstance(request, dict) or not request.get("uri"):
        raise DurableHttpError("The durable HTTP request has no uri.")
    if request.get("tokenSource"):
        resource = (request["tokenSource"] or {}).get("resource", "")
        raise DurableHttpError(
            f"call_http with a managed-identity token source (resource {resource!r}) cannot run on the embedded "
            "host: there is no managed identity locally. Pass an Authorization header instead, or run on Azure."
        )
    headers = {str(k): _header_value(v) for k, v in (request.get("headers") or {}).items()}
    content = request.get("content")
    body = content.encode("utf-8") if isinstance(content, str) else None
    owned = client is None
    http = client or httpx.AsyncClient(timeout=_REQUEST_TIMEOUT_S, follow_redirects=False)
    try:
        response = await http.request(
            str(request.get("method") or "GET").upper(), str(request["uri"]), headers=headers, content=body
        )
        while response.status_code == 202 and "location" in response.headers:
            await asyncio.sleep(_poll_wait(response.headers.get("retry-after")))
            location = str(response.url.join(response.headers["location"]))
            poll_headers = {k: v for k, v in headers.items() if k.lower() != "x-functions-key"}
            response = await http.get(location, headers=poll_headers)
    except httpx.HTTPError as exc:
        raise DurableHttpError(f"The durable HTTP request to {request['uri']} failed: {exc!r}") from exc
    finally:
        if owned:
            await http.aclose()
    return {"statusCode": response.status_code, "headers": _headers(response.headers), "content": response.text}


def _header_value(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _headers(headers: httpx.Headers) -> dict[str, Any]:
    """Response headers as the extension serialises them: one value as a string, several as a list."""
    result: dict[str, Any] = {}
    for key in headers:
        values = headers.get_list(key)
        result[key] = values[0] if len(values) == 1 else values
    return result


def _poll_wait(retry_after: str | None) -> float:
    if retry_after is None:
        return _DEFAULT_POLL_S
    try:
        return min(max(float(retry_after), 0.0), _MAX_POLL_WAIT_S)
    except ValueError:
        return _DEFAULT_POLL_S


def token_source_users(orchestrators: Iterable[tuple[str, Any]]) -> list[str]:
    """Names of the orchestrators whose code passes a ``token_source`` or builds a ``ManagedIdentityTokenSource``.

    Read from the source of the user's function (inside the SDK's wrapper), so the host can refuse them at
    start-up instead of failing mid-run; code it cannot read is left to the per-request check in :func:`perform`.
    """
    found = []
    for name, func in orchestrators:
        source = _user_source(func)
        if source is not None and _uses_token_source(source):
            found.append(name)
    return found


def _user_source(func: Any) -> str | None:
    seen: set[int] = set()
    stack = [func]
    while stack:
        fn = stack.pop()
        if id(fn) in seen or not callable(fn):
            continue
        seen.add(id(fn))
        module = getattr(fn, "__module__", "") or ""
        if inspect.isfunction(fn) and not module.startswith("azure."):
            try:
                return textwrap.dedent(inspect.getsource(fn))
            except (OSError, TypeError):
                return None
        stack.extend(cell.cell_contents for cell in (getattr(fn, "__closure__", None) or ()) if _has_contents(cell))
        if (wrapped := getattr(fn, "__wrapped__", None)) is not None:
            stack.append(wrapped)
    return None


def _has_contents(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _uses_token_source(source: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            if name == "ManagedIdentityTokenSource":
                return True
            if name == "call_http":
                if any(k.arg == "token_source" and not _is_none(k.value) for k in node.keywords):
                    return True
                if len(node.args) >= 5 and not _is_none(node.args[4]):
                    return True
    return False


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None
