"""`pipeline ask` through a running `pipeline serve`: the question POSTed to its start route, its status polled.

The standard library's HTTP client, not aiohttp or httpx: this path exists to answer in a fraction of the second
that importing those and starting a host of its own would take.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cli.errors import CliError
from cli.serve_record import ServeRecord

__all__ = ["ask_serve"]

# Terminal runtime statuses: the wait ends there (as the embedded host's own wait for completion does).
_FINISHED = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
# Polls start fast (a run takes tens of milliseconds on a warm host) and back off to this.
_FIRST_POLL_S, _LONGEST_POLL_S = 0.01, 0.25


def ask_serve(
    serve: ServeRecord, data_dir: Path, question: str, top_k: int, scopes: list[str], timeout_s: float
) -> dict[str, Any]:
    """The final status of one run of `question` on the running host (its status route's JSON)."""
    headers = {"Content-Type": "application/json"}
    if serve.keys:
        from embedded_host.web.keys import load_or_create_keys

        headers["x-functions-key"] = load_or_create_keys(data_dir)[0].function
    # No proxy: the host is on this machine, and a proxy from the environment must not see its traffic.
    http = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout_s
    body = {"question": question, "top_k": top_k, "scopes": scopes or None}
    status, reply = _call(http, serve, "POST", "/api/pipeline/start", headers, json.dumps(body).encode(), timeout_s)
    if status != 202:
        from cli.problems import refusal

        raise CliError(refusal(reply), 2)
    instance_id = reply["instance_id"]
    pause = _FIRST_POLL_S
    while True:
        left = deadline - time.monotonic()
        code, state = _call(http, serve, "GET", f"/api/pipeline/{instance_id}", headers, None, max(left, 1.0))
        if code != 200:
            raise CliError(f"instance {instance_id}: {state.get('title', code)}: {state.get('detail', '')}")
        if state.get("runtime_status") in _FINISHED:
            return state
        if left <= 0:
            raise CliError(f"instance {instance_id} did not finish within {timeout_s:.0f} s", 3)
        time.sleep(min(pause, max(left, 0.0)))
        pause = min(pause * 2, _LONGEST_POLL_S)


def _call(
    http: urllib.request.OpenerDirector,
    serve: ServeRecord,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    timeout_s: float,
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(serve.url + path, data=body, headers=headers, method=method)
    try:
        with http.open(request, timeout=timeout_s) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as refused:  # a problem+json answer: the caller says what it means
        with refused:
            try:
                return refused.code, json.loads(refused.read() or b"{}")
            except ValueError:
                return refused.code, {"title": f"HTTP {refused.code}", "detail": refused.reason}
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise CliError(
            f"`pipeline serve` on this state folder did not answer at {serve.url}: {reason} "
            "(stop it, or set PIPELINE_DATA_DIR to another folder)"
        ) from None
