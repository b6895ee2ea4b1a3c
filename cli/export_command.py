"""`pipeline export`: save instance histories as Durable status JSON, for `pipeline replay` to check later.

Locally it reads the state file under `PIPELINE_DATA_DIR` (no host needs to run). With `PIPELINE_EXPORT_URL`
set it asks that app's Durable HTTP API instead (a deployed app, or a `pipeline serve` elsewhere), sending
`PIPELINE_EXPORT_KEY` (the `durabletask_extension` system key) in a header, so the key never shows up in a
URL, a message or a file. Filters go to the list API and are applied again here, because an older extension
may ignore them; pages follow `x-ms-continuation-token` while there is one.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

from cli.environment import data_dir, settings
from cli.errors import CliError

__all__ = ["run_export"]

_DURABLE = "/runtime/webhooks/durabletask/instances"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _since(text: str | None) -> str | None:
    """`--since` as the status API writes times (whole seconds, Z), so string order is time order."""
    if text is None:
        return None
    from embedded_host.durable.timeutil import parse_iso

    try:
        return parse_iso(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise CliError(f"--since {text!r} is not an ISO 8601 date or time (e.g. 2026-11-27T08:00:00Z)", 2) from None


def _local(statuses: Sequence[str], since: str | None, top: int | None) -> Iterator[dict[str, Any]]:
    """Newest first, a page at a time, with the same filters the host's list API applies."""
    from embedded_host import state_path
    from embedded_host.durable.queries import MAX_PAGE_SIZE, InstanceQuery, decode_token, page_of_ids
    from embedded_host.durable.status import read_status
    from embedded_host.durable.store import connect

    path = state_path(data_dir())
    if not path.exists():
        raise CliError(
            f"no local state in {data_dir()} (run `pipeline ask` or `pipeline serve` first, "
            "or set PIPELINE_EXPORT_URL to export from a deployed app)"
        )
    conn = connect(path)
    query = InstanceQuery(statuses=tuple(statuses), created_from=since, top=min(top or MAX_PAGE_SIZE, MAX_PAGE_SIZE))
    left = top
    try:
        while left is None or left > 0:
            ids, token = page_of_ids(conn, query)
            for instance_id in ids[:left]:
                status = read_status(conn, instance_id, show_history=True, show_history_output=True)
                if status is not None:
                    yield status
            if left is not None:
                left -= len(ids)
            if not token:
                return
            query = replace(query, after=decode_token(token))
    finally:
        conn.close()


def _remote(
    base: str, key: str | None, statuses: Sequence[str], since: str | None, top: int | None
) -> Iterator[dict[str, Any]]:
    import httpx

    headers = {"x-functions-key": key} if key else {}
    params: dict[str, str] = {"showInput": "true"}
    if statuses:
        params["runtimeStatus"] = ",".join(statuses)
    if since:
        params["createdTimeFrom"] = since
    if top:
        params["top"] = str(top)
    seen = 0
    with httpx.Client(base_url=base.rstrip("/"), headers=headers, timeout=30.0) as http:
        token: str | None = None
        while True:
            page_headers = {"x-ms-continuation-token": token} if token else {}
            listing = _get(http, _DURABLE, params=params, headers=page_headers)
            for item in listing.json():
                if statuses and item.get("runtimeStatus") not in statuses:
                    continue
                if since and str(item.get("createdTime") or "") < since:
                    continue
                if top and seen >= top:
                    return
                instance_id = item.get("instanceId")
                one = _get(
                    http,
                    f"{_DURABLE}/{instance_id}",
                    params={"showHistory": "true", "showHistoryOutput": "true", "showInput": "true"},
                )
                seen += 1
                yield one.json()
            token = listing.headers.get("x-ms-continuation-token")
            if not token or token == "null" or (top and seen >= top):
                return


def _get(http: Any, path: str, **kwargs: Any) -> Any:
    import httpx

    try:
        response = http.get(path, **kwargs)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach the Durable HTTP API at PIPELINE_EXPORT_URL: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise CliError(
            f"the Durable HTTP API answered {response.status_code}: set PIPELINE_EXPORT_KEY to the "
            "app's durabletask_extension system key"
        )
    if response.status_code not in (200, 202):
        raise CliError(f"the Durable HTTP API answered {response.status_code} for {path}")
    return response


def run_export(directory: Path, *, statuses: Sequence[str], since: str | None, top: int | None) -> int:
    from embedded_host.durable.queries import RUNTIME_STATUSES

    unknown = [s for s in statuses if s not in RUNTIME_STATUSES]
    if unknown:
        raise CliError(f"unknown --status {', '.join(unknown)}: use {', '.join(RUNTIME_STATUSES)}", 2)
    if top is not None and top < 1:
        raise CliError("--top must be at least 1", 2)
    cutoff = _since(since)
    config = settings()
    if config.pipeline_export_url:
        key = config.pipeline_export_key.get_secret_value() if config.pipeline_export_key else None
        source = "the app at PIPELINE_EXPORT_URL"
        statuses_iter = _remote(config.pipeline_export_url, key, statuses, cutoff, top)
    else:
        source = str(data_dir())
        statuses_iter = _local(statuses, cutoff, top)
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for status in statuses_iter:
        name = _SAFE.sub("_", str(status.get("instanceId") or f"instance-{count}")) + ".json"
        (directory / name).write_text(json.dumps(status, indent=1) + "\n", encoding="utf-8")
        count += 1
        if count % 100 == 0:
            print(f"... {count} histories", file=sys.stderr, flush=True)
    print(f"exported {count} histor{'y' if count == 1 else 'ies'} from {source} to {directory}")
    return 0
