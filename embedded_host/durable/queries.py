"""Instance queries of the Durable HTTP API: the list's filters and paging, and the purge-by-filter selection.

The extension reads ``runtimeStatus`` (comma-separated, exact status names; unknown names are dropped),
``createdTimeFrom``/``createdTimeTo``, ``instanceIdPrefix``, ``top`` (page size, 100 by default) and
``showInput`` (true by default) from the query string, and the page to continue from in the
``x-ms-continuation-token`` request header; it answers the next token in the same response header, empty on
the last page. A value it cannot parse is ignored rather than refused, so this module does the same.

Pages are newest first (``created_time`` then ``instance_id``, both descending) and the token is the last row's
key (keyset paging): a page costs one index range scan however deep it is, and runs created while someone
pages do not shift the rows after the token.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from embedded_host.durable.timeutil import status_time

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "RUNTIME_STATUSES",
    "InstanceQuery",
    "decode_token",
    "encode_token",
    "page_of_ids",
    "parse_time",
    "purge_selection",
]

DEFAULT_PAGE_SIZE = 100
# Azure Table storage answers at most 1,000 rows a request; a bigger `top` would only hold the engine's loop.
MAX_PAGE_SIZE = 1000
RUNTIME_STATUSES = (
    "Running",
    "Completed",
    "ContinuedAsNew",
    "Failed",
    "Canceled",
    "Terminated",
    "Pending",
    "Suspended",
)
# The statuses a filtered purge keeps from its runtimeStatus list (the terminal ones).
PURGEABLE_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


def parse_time(text: str | None) -> str | None:
    """A query-string time in the stored form (UTC, whole seconds, ``Z``); None when absent or unreadable."""
    if not text:
        return None
    try:
        moment = _dt.datetime.fromisoformat(text.strip().replace(" ", "+"))  # a `+` left unencoded became a space
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)  # no offset: UTC, as the extension's round-trip parse reads it
    return status_time(moment)


def _bool(text: str | None, default: bool) -> bool:
    if text is None:
        return default
    lowered = text.strip().lower()
    return {"true": True, "false": False}.get(lowered, default)


@dataclass(frozen=True)
class InstanceQuery:
    """The filters of one list or purge request."""

    statuses: tuple[str, ...] = ()
    created_from: str | None = None
    created_to: str | None = None
    prefix: str | None = None
    top: int = DEFAULT_PAGE_SIZE
    show_input: bool = True
    after: tuple[str, str] | None = field(default=None)

    @classmethod
    def from_request(
        cls, query: Mapping[str, str], values: Iterable[str] = (), token: str | None = None
    ) -> InstanceQuery:
        """Read the query string as the extension does; ``values`` are every ``runtimeStatus`` given."""
        wanted = [part.strip() for value in values for part in value.split(",")]
        statuses = tuple(dict.fromkeys(s for s in wanted if s in RUNTIME_STATUSES))
        try:
            top = int(query.get("top", ""))
        except ValueError:
            top = DEFAULT_PAGE_SIZE
        if top < 1:
            top = DEFAULT_PAGE_SIZE
        return cls(
            statuses=statuses,
            created_from=parse_time(query.get("createdTimeFrom")),
            created_to=parse_time(query.get("createdTimeTo")),
            prefix=query.get("instanceIdPrefix") or None,
            top=min(top, MAX_PAGE_SIZE),
            show_input=_bool(query.get("showInput"), True),
            after=decode_token(token),
        )

    def where(self) -> tuple[str, list[str]]:
        """The SQL condition and its parameters (without the paging key)."""
        clauses: list[str] = []
        params: list[str] = []
        if self.statuses:
            clauses.append(f"runtime_status IN ({', '.join('?' * len(self.statuses))})")
            params.extend(self.statuses)
        if self.created_from is not None:
            clauses.append("created_time >= ?")
            params.append(self.created_from)
        if self.created_to is not None:
            clauses.append("created_time <= ?")
            params.append(self.created_to)
        if self.prefix:
            # A range, not LIKE: it uses the primary key, and `%` or `_` in a prefix stay literal.
            clauses.append("instance_id >= ? AND instance_id < ?")
            params.extend([self.prefix, self.prefix + "\U0010ffff"])
        return (" AND ".join(clauses) or "1"), params


def encode_token(created: str, instance_id: str) -> str:
    """An opaque continuation token: the key of the last row given."""
    raw = json.dumps([created, instance_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None) -> tuple[str, str] | None:
    """The key a token carries; None for no token or one this host did not make (the list starts over)."""
    if not token or not token.strip():
        return None
    text = token.strip()
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        return None
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    return None


def page_of_ids(conn: sqlite3.Connection, query: InstanceQuery) -> tuple[list[str], str]:
    """One page of instance ids, newest first, and the token for the next page ('' after the last)."""
    condition, params = query.where()
    if query.after is not None:
        condition += " AND (created_time, instance_id) < (?, ?)"
        params = [*params, *query.after]
    rows = conn.execute(
        f"SELECT created_time, instance_id FROM instances WHERE {condition}"
        " ORDER BY created_time DESC, instance_id DESC LIMIT ?",
        (*params, query.top + 1),  # one more than asked says whether another page exists
    ).fetchall()
    more = len(rows) > query.top
    rows = rows[: query.top]
    token = encode_token(*rows[-1]) if more and rows else ""
    return [r[1] for r in rows], token


def purge_selection(conn: sqlite3.Connection, query: InstanceQuery) -> list[str]:
    """The instances a filtered purge deletes on Azure Storage (DTFx ``AzureTableTrackingStore``, 2026).

    The ``runtimeStatus`` list is cut to the terminal statuses (Completed, Failed, Terminated, Canceled); when
    none is left, because none was given or only running ones were, the status is no condition at all and every
    instance created in the window goes, running ones included. So ``runtimeStatus=Running`` purges everything
    in the window; a caller that means finished runs says ``runtimeStatus=Completed,Failed,Terminated``.
    """
    chosen = tuple(s for s in query.statuses if s in PURGEABLE_STATUSES)
    narrowed = InstanceQuery(statuses=chosen, created_from=query.created_from, created_to=query.created_to)
    condition, params = narrowed.where()
    return [r[0] for r in conn.execute(f"SELECT instance_id FROM instances WHERE {condition}", params)]
