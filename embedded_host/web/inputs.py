"""What the host refuses before a handler sees it: ids and event names the extension would not take, JSON
nested deeper than a parser should follow, query times no calendar holds, and bodies that never finish.

Each refusal is a 4xx, never a 500 with a traceback: a probe of the host found each of these inputs
crashing a handler (RecursionError, OverflowError) or slipping through into a URL or a log line.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import re
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Middleware

from embedded_host.web.access import Handler
from embedded_host.web.responses import json_response, problem

__all__ = [
    "BODY_READ_TIMEOUT_S",
    "MAX_EVENT_NAME",
    "MAX_INSTANCE_ID",
    "MAX_JSON_DEPTH",
    "event_name_problem",
    "instance_id_problem",
    "json_too_deep",
    "reading_middleware",
    "refused",
]

log = logging.getLogger("embedded_host.http")

# The extension refuses instance ids over 256 characters and with these characters (Azure Storage row keys,
# and a `#`, `?` or `/` would cut the status URLs the ids are put into unescaped).
MAX_INSTANCE_ID = 256
MAX_EVENT_NAME = 256
# Json.NET, which the extension parses with, stops at 64 levels by default; Python's parser would recurse
# until the interpreter's limit and raise RecursionError past every `except ValueError`.
MAX_JSON_DEPTH = 64
# A body must arrive within this long once its headers have: a client that trickles one keeps a handler
# and a connection forever otherwise.
BODY_READ_TIMEOUT_S = 30.0
_TIME_PARAMS = ("createdTimeFrom", "createdTimeTo")
_SPECIAL = re.compile(rb'[\[\]{}"\\]')


def _control(c: str) -> bool:
    return ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F


def instance_id_problem(instance_id: str) -> str | None:
    """Why the extension would refuse ``instance_id``, or None when it is a valid id."""
    if not instance_id.strip():
        return "Instance IDs must not be empty."
    if len(instance_id) > MAX_INSTANCE_ID:
        return f"Instance ID lengths must not exceed {MAX_INSTANCE_ID} characters."
    if any(c in "/\\#?" or _control(c) for c in instance_id):
        return "Instance IDs must not contain /, \\, #, ?, or control characters."
    return None


def event_name_problem(name: str) -> str | None:
    """Why an external event name is refused: control characters would forge log lines where it is shown."""
    if not name:
        return "Event names must not be empty."
    if len(name) > MAX_EVENT_NAME:
        return f"Event names must not exceed {MAX_EVENT_NAME} characters."
    if any(_control(c) for c in name):
        return "Event names must not contain control characters."
    return None


def refused(message: str) -> web.Response:
    """A 400 in the extension's shape (``{"Message": ...}``), as its other argument errors are."""
    return json_response(400, {"Message": message})


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects deeper than ``limit`` (brackets inside strings do not count).

    One linear pass over the characters that matter, before any parse: a 1 MiB body of ``[`` is refused at
    once, and no input makes it backtrack.
    """
    depth = 0
    in_string = False
    skip = -1  # the position an escape consumes
    for found in _SPECIAL.finditer(body):
        at, char = found.start(), found.group()
        if at == skip:
            continue
        if in_string:
            if char == b"\\":
                skip = at + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


def _time_problem(name: str, value: str) -> str | None:
    try:
        moment = _dt.datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        return None  # unreadable values are ignored, as the extension ignores them
    if moment.tzinfo is None:
        return None  # read as UTC already
    try:
        moment.astimezone(_dt.UTC)
    except OverflowError:
        return f"{name} is out of range: {value[:40]!r} is not a time in years 1 to 9999 in UTC."
    return None


def _query_problem(names: Iterable[tuple[str, str]]) -> str | None:
    for name, value in names:
        if name in _TIME_PARAMS and (found := _time_problem(name, value)) is not None:
            return found
    return None


def reading_middleware(*, durable_roots: tuple[str, ...], max_body: int, body_timeout_s: float) -> Middleware:
    """Reads every body under a deadline (handlers then get it from aiohttp's cache), and refuses, on the
    Durable API (``durable_roots``), JSON nested too deep and query times out of range."""

    @web.middleware
    async def read_first(request: web.Request, handler: Handler) -> web.StreamResponse:
        durable = request.path.startswith(durable_roots)
        if durable and (found := _query_problem(request.query.items())) is not None:
            return problem(400, "Bad Request", found, request.path)
        if request.body_exists:
            try:
                body = await asyncio.wait_for(request.read(), body_timeout_s)
            except web.HTTPRequestEntityTooLarge:
                return problem(
                    413, "Request body too large", f"The body is over the limit of {max_body} bytes.", request.path
                )
            except TimeoutError:
                log.info(
                    "%s %s: the body did not arrive within %.0f s; closing",
                    request.method,
                    request.rel_url.raw_path,  # still %-encoded: a decoded newline would forge a log line
                    body_timeout_s,
                )
                return _closing(
                    problem(408, "Request Timeout", "The request body did not arrive in time.", request.path)
                )
            except ConnectionError:
                # A client that gives up mid-body: one line, not aiohttp's traceback of the read.
                log.info(
                    "%s %s: the client closed the connection before the body ended",
                    request.method,
                    request.rel_url.raw_path,
                )
                raise web.HTTPBadRequest() from None
            if durable and json_too_deep(body):
                return problem(
                    400, "Bad Request", f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.", request.path
                )
        return await handler(request)

    return read_first


def _closing(response: web.Response) -> web.Response:
    response.force_close()
    return response
