"""Small response builders shared by the host's HTTP modules: JSON and RFC 9457 problem bodies."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

__all__ = ["json_response", "problem", "problem_with"]


def problem(status: int, title: str, detail: str, instance: str | None = None) -> web.Response:
    """RFC 9457 problem details, in the shape the app's own problems have (`instance`: the path)."""
    return problem_with({}, status, title, detail, instance)


def problem_with(
    extra: dict[str, Any], status: int, title: str, detail: str, instance: str | None = None
) -> web.Response:
    """`problem` with extension members (RFC 9457 section 3.2), such as ``retryAfter``."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    if instance is not None:
        body["instance"] = instance
    return web.Response(status=status, text=json.dumps(body), content_type="application/problem+json")


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json", headers=headers)
