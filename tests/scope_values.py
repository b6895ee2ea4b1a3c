"""Scope values that must be refused, and valid names that look like syntax and must stay inert.

Shared by the request (HTTP, queue, CLI), local index and Azure AI Search tests, so every layer is
held to the same list.
"""

from __future__ import annotations

from typing import Any

__all__ = ["INERT_SCOPES", "REFUSED_SCOPES", "REFUSED_SCOPE_VALUES"]

# Strings outside the rule (contracts/scopes.py): each is refused wherever it arrives.
REFUSED_SCOPES: list[str] = [
    "",  # empty
    " ",
    "hr ",  # trailing space
    "*",  # no wildcard exists
    "'",
    "hr' or '1' eq '1",  # ends the OData literal
    "hr') or true or ('",
    "hr,finance",  # search.in's default delimiter
    "hr|finance",  # the delimiter this app gives search.in
    "scopes/any()",
    "x) or (not scopes/any()",
    "hr; DROP TABLE document_scopes; --",
    'hr"',
    "hr\n",  # `$` alone would accept a trailing newline
    "h\x00r",
    "x" * 65,  # one over the limit
    "x" * 10_000,
    "\u0127r",  # ħ: not ASCII
    "\u04bbr",  # Cyrillic һ, looks like h
    "\uff48\uff52",  # fullwidth ｈｒ
    "\u212a",  # Kelvin sign: matches k case-insensitively
    "h\u200br",  # zero-width space
    "hr\u202e",  # right-to-left override
    "h\u0301r",  # combining accent
    "%27",
    "hr/finance",
    "(hr)",
]

# Non-string JSON values in a scopes list.
REFUSED_SCOPE_VALUES: list[Any] = [*REFUSED_SCOPES, 1, None, True, {"hr": 1}, ["hr"]]

# Valid names that read like OData or SQL: accepted, and matched only as themselves.
INERT_SCOPES: list[str] = ["or", "not", "any", "eq", "true", "search.in", "null", "-", "..", "s:", "HR", "x" * 64]
