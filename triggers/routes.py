"""The app's HTTP routes (below the host's route prefix), and URLs built from them.

One place for the route templates, so a URL the app hands out is built from the route it names, not cut
out of whatever path the caller happened to use.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

__all__ = ["START_ROUTE", "STATUS_ROUTE", "status_url"]

START_ROUTE = "pipeline/start"
STATUS_ROUTE = "pipeline/{instance_id}"
_DEFAULT_PREFIX = "/api/"  # host.json's routePrefix, for a request path that does not end in its own route


def status_url(request_url: str, instance_id: str) -> str:
    """`GET /api/pipeline/{id}` on the origin the caller used, for a request to the start route.

    The host's route prefix is whatever precedes the start route in the request path (routes match
    case-insensitively, and a trailing slash still matches), so it is kept as the caller wrote it.
    """
    parts = urlsplit(request_url)
    path = parts.path.rstrip("/")
    matched = path.lower().endswith("/" + START_ROUTE)
    prefix = path[: len(path) - len(START_ROUTE)] if matched else _DEFAULT_PREFIX
    route = STATUS_ROUTE.format(instance_id=quote(instance_id, safe=""))
    return f"{parts.scheme}://{parts.netloc}{prefix}{route}"
