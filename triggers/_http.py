"""HTTP plumbing shared by the routes: JSON and problem+json responses, and the body parser of both starters."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
from pydantic import BaseModel, ValidationError

from contracts import FieldProblem, ProblemDetails

__all__ = [
    "MAX_BODY_BYTES",
    "UNREADABLE_JSON",
    "BodyRejected",
    "UnreadableBody",
    "field_problems",
    "json_response",
    "parse_json",
    "problem_response",
    "read_json_body",
]

MAX_BODY_BYTES = 64 * 1024
PROBLEM_CONTENT_TYPE = "application/problem+json"
UNREADABLE_JSON = "The body is JSON nested too deeply or holding a number too long to read."


class BodyRejected(Exception):
    """The request body cannot be accepted; carries the problem to answer with."""

    def __init__(self, problem: ProblemDetails) -> None:
        super().__init__(problem.title)
        self.problem = problem


def json_response(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        body=model.model_dump_json(exclude_none=True),
        status_code=status,
        mimetype="application/json",
        headers=headers,
    )


def problem_response(problem: ProblemDetails, req: func.HttpRequest | None = None) -> func.HttpResponse:
    if req is not None and problem.instance is None:
        problem = problem.model_copy(update={"instance": _path_of(req.url)})
    return func.HttpResponse(
        body=problem.to_json_bytes(), status_code=problem.status, headers={"Content-Type": PROBLEM_CONTENT_TYPE}
    )


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def field_problems(error: ValidationError) -> list[FieldProblem]:
    """One entry per bad field, in words a producer can act on (no input values echoed back)."""
    return [FieldProblem(field=".".join(str(part) for part in e["loc"]), message=e["msg"]) for e in error.errors()]


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class UnreadableBody(Exception):
    """A body that is not a JSON document this app reads: `reason` is a short code, `description` says why."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description


def parse_json(body: bytes) -> Any:
    """The JSON document in `body`, at most `MAX_BODY_BYTES` of UTF-8: the one parser of both starters."""
    if len(body) > MAX_BODY_BYTES:
        raise UnreadableBody("BodyTooLarge", f"The body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}.")
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise UnreadableBody("InvalidEncoding", "The body is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise UnreadableBody("InvalidJson", f"The body is not valid JSON: {exc.msg} at {where}.") from None
    except (ValueError, RecursionError):  # valid JSON the parser refuses: an integer over 4300 digits, deep nesting
        raise UnreadableBody("InvalidJson", UNREADABLE_JSON) from None


# HTTP status and problem title of each reason `parse_json` gives.
_PROBLEMS = {
    "BodyTooLarge": (413, "Request body too large"),
    "InvalidEncoding": (400, "Invalid body"),
    "InvalidJson": (400, "Invalid JSON"),
}


def read_json_body(req: func.HttpRequest) -> Any:
    """The parsed JSON body, or `BodyRejected` with the 413/415/400 problem that explains why not."""
    body = req.get_body() or b""
    content_type = req.headers.get("content-type", "")
    if len(body) <= MAX_BODY_BYTES and not _is_json(content_type):  # too large is said first
        raise BodyRejected(
            ProblemDetails.of(
                415,
                "Unsupported media type",
                f"Send the question as application/json, not {content_type or 'a body without Content-Type'}.",
            )
        )
    try:
        return parse_json(body)
    except UnreadableBody as unreadable:
        status, title = _PROBLEMS[unreadable.reason]
        raise BodyRejected(ProblemDetails.of(status, title, unreadable.description)) from None
