"""Document scopes: the one rule for a scope name, shared by requests, the index writers and the retrievers.

A scope name is 1..64 ASCII letters, digits and `.`, `_`, `:`, `-` (an Entra ID group object id fits,
as do names like `team:finance`). The set is small on purpose: no quote, comma, `|`, space, `*` or
parenthesis can reach an OData filter or a SQL statement as a scope, and no Unicode look-alike can
pass for another name. Names match exactly (case-sensitive), everywhere.

Visibility: a document without scopes is visible to every request; a document with scopes only to a
request that carries at least one of them. A request without scopes (null or `[]`) sees only the
documents without scopes. There is no wildcard: no value widens what a request sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

__all__ = [
    "MAX_SCOPES",
    "MAX_SCOPE_LENGTH",
    "SCOPE_NAME_RULE",
    "SCOPE_PATTERN",
    "InvalidScope",
    "ScopeName",
    "check_scope_name",
    "normalise_scopes",
]

MAX_SCOPE_LENGTH = 64
MAX_SCOPES = 32  # per request and per document: a filter stays short, a history small
SCOPE_PATTERN = rf"^[A-Za-z0-9._:-]{{1,{MAX_SCOPE_LENGTH}}}$"
SCOPE_NAME_RULE = f"a scope name is 1..{MAX_SCOPE_LENGTH} of the characters A-Z a-z 0-9 . _ : -"
# `fullmatch` with an explicit ASCII class: `$` alone would accept a trailing newline, and `\w` or
# IGNORECASE would let Unicode letters (the Kelvin sign matches `k` case-insensitively) through.
_SCOPE = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_SCOPE_LENGTH}}}")


class InvalidScope(ValueError):
    """A scope name outside the rule, or too many scopes; the message never repeats the value."""


def check_scope_name(value: str) -> str:
    """`value` if it is a valid scope name, else `InvalidScope` (a `ValueError`, so pydantic reports it)."""
    if not isinstance(value, str) or _SCOPE.fullmatch(value) is None:
        raise InvalidScope(SCOPE_NAME_RULE)
    return value


def normalise_scopes(scopes: Iterable[str] | None) -> tuple[str, ...]:
    """Checked, deduplicated and sorted scope names (one canonical form for filters, storage and history)."""
    names = {check_scope_name(name) for name in scopes or ()}
    if len(names) > MAX_SCOPES:
        raise InvalidScope(f"at most {MAX_SCOPES} scopes, got {len(names)}")
    return tuple(sorted(names))


ScopeName = Annotated[
    str,
    AfterValidator(check_scope_name),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_SCOPE_LENGTH, "pattern": SCOPE_PATTERN}),
]
