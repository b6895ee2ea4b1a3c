"""Invalid input in the CLI's words: the flag a user typed (`--top-k`), not the contract's field (`top_k`).

One wording for every command that checks a Question (`ask`, `enqueue`): ``invalid question: <where> <what>``,
every reason listed, not only the first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

__all__ = ["ASK_FLAGS", "FILE_FIELDS", "describe", "reasons", "refusal"]

# Where a Question's fields come from on the command line.
ASK_FLAGS: Mapping[str, str] = {
    "question": "the question",
    "top_k": "--top-k",
    "request_id": "--request-id",
    "metadata": "metadata",
    "scopes": "--scope",
}
# In a JSONL file the field names are what the user wrote.
FILE_FIELDS: Mapping[str, str] = {name: f"field {name!r}" for name in ASK_FLAGS}


def _reason(error: Mapping[str, Any], names: Mapping[str, str]) -> str:
    loc = [str(part) for part in error["loc"]]
    field = loc[0] if loc else ""
    name = names.get(field) or (f"unknown field {field!r}" if error["type"] == "extra_forbidden" else field or "body")
    if error["type"] == "json_invalid":
        return f"not valid JSON: {error['msg'].removeprefix('Invalid JSON: ')}"
    if error["type"] == "extra_forbidden":
        return f"{name} is not allowed"
    if field == "question" and error["type"] == "string_too_short":
        return f"{name} is empty"  # whitespace is trimmed first, so "   " lands here too
    if field == "top_k" and error["type"] in ("greater_than_equal", "less_than_equal", "int_type", "int_parsing"):
        return f"{name} must be a whole number from 1 to 20"
    # pydantic prefixes a validator's own message ("Value error, ..."): the message alone reads as the rule.
    message = str(error["msg"]).removeprefix("Value error, ")
    if field == "scopes":  # one flag per scope: the position in the list means nothing to the user
        return f"{name}: {message}"
    inner = ".".join(loc[1:])
    return f"{name}{f' {inner}' if inner else ''}: {message}"


def reasons(error: ValidationError, names: Mapping[str, str] = ASK_FLAGS) -> list[str]:
    """Every reason the input was refused, each naming what the user typed."""
    return [_reason(e, names) for e in error.errors()]


def describe(problems: Sequence[str]) -> str:
    return "invalid question: " + "; ".join(problems)


def refusal(problem: Mapping[str, Any]) -> str:
    """A start route's problem+json refusal in one line: its title, then each field's reason (or its detail)."""
    fields = "; ".join(f"{e['field']}: {e['message']}" for e in problem.get("errors") or [])
    return f"{problem.get('title', 'rejected')}: {fields or problem.get('detail', '')}"
