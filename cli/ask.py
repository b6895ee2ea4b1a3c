"""`pipeline ask`: one question through the whole durable pipeline on the embedded host, offline."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from cli.environment import APP_DIR, data_dir, prepare_binding_settings
from cli.errors import CliError
from cli.serve_record import running_serve

__all__ = ["run_ask"]


def _validate(question: str, top_k: int, scopes: list[str]) -> None:
    """Reject a bad question before the heavy imports and the host start (they take a second).

    The same contract model the starter uses, so the message names the same fields.
    """
    from pydantic import ValidationError

    from contracts import Question

    try:
        Question(question=question, top_k=top_k, scopes=scopes or None)
    except ValidationError as invalid:
        from cli.problems import describe, reasons

        raise CliError(describe(reasons(invalid)), 2) from None


async def _ask(question: str, top_k: int, scopes: list[str], timeout_s: float) -> dict[str, Any]:
    # aiohttp, which the Durable SDK loads anyway: httpx would add its import and TLS set-up to every ask.
    import aiohttp

    from embedded_host import EmbeddedHost, HostAlreadyRunningError

    prepare_binding_settings()
    host = EmbeddedHost(APP_DIR, data_dir(), consume_queues=False)
    try:
        await host.start()
    except HostAlreadyRunningError:
        raise CliError(
            f"`pipeline serve` is running on {data_dir()}; POST the question to it, "
            "or set PIPELINE_DATA_DIR to another folder"
        ) from None
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(host.base_url, timeout=timeout) as http:
            body = {"question": question, "top_k": top_k, "scopes": scopes or None}
            async with http.post("/api/pipeline/start", json=body) as started:
                reply = await started.json(content_type=None)
                accepted = started.status == 202
            if not accepted:
                from cli.problems import refusal

                raise CliError(refusal(reply), 2)
            instance_id = reply["instance_id"]
            if await host.wait_for_completion(instance_id, timeout=timeout_s) is None:
                raise CliError(f"instance {instance_id} did not finish within {timeout_s:.0f} s", 3)
            async with http.get(f"/api/pipeline/{instance_id}") as status:
                result: dict[str, Any] = await status.json(content_type=None)
                return result
    finally:
        await host.stop()
        _flush_events()


# Long enough for a live subscriber on this machine, short enough not to hold the answer back.
_WEBHOOK_GRACE_S = 0.5


def _flush_events() -> None:
    """Give webhook deliveries a moment, not their retries: what is left resumes in the next process."""
    from providers.factory import shutdown

    pending = shutdown(flush_timeout_s=_WEBHOOK_GRACE_S)
    if pending:
        from providers.local.event_outbox import DB_FILE

        print(
            f"{pending} webhook deliver{'y' if pending == 1 else 'ies'} pending "
            "(PIPELINE_EVENT_WEBHOOKS not answering); "
            f"kept in {data_dir() / DB_FILE}, retried by the next `pipeline serve` or `pipeline ask`",
            file=sys.stderr,
        )


def _ask_here(question: str, top_k: int, scopes: list[str], timeout_s: float) -> tuple[dict[str, Any], float]:
    """The run on a host of this process's own, started for it, and its milliseconds from the host's start."""
    from telemetry import configure_telemetry

    configure_telemetry()  # exporters from settings/OTEL_*, once per process
    from providers.factory import load_model_in_background, load_models_in_background

    load_model_in_background()  # beside everything below: most of an ask is imports and the model's load
    from cli.first_run import prepare_state_folder

    prepare_state_folder()
    load_models_in_background()  # the steps' providers, while the host starts
    import asyncio

    began = time.perf_counter()
    status = asyncio.run(_ask(question, top_k, scopes, timeout_s))
    return status, (time.perf_counter() - began) * 1000


def run_ask(
    question: str, *, top_k: int, as_json: bool, timeout_s: float = 60.0, scopes: list[str] | None = None
) -> int:
    scopes = scopes or []
    _validate(question, top_k, scopes)
    serving = running_serve(data_dir())
    if serving is not None:
        # The state folder is that host's: the question goes to it, as a producer's would.
        if serving.app != APP_DIR:
            raise CliError(
                f"`pipeline serve` is running on {data_dir()} for another app ({serving.app}); "
                "set PIPELINE_DATA_DIR to another folder"
            )
        from cli.serve_client import ask_serve

        began = time.perf_counter()
        status = ask_serve(serving, data_dir(), question, top_k, scopes, timeout_s)
        elapsed_ms = (time.perf_counter() - began) * 1000
    else:
        status, elapsed_ms = _ask_here(question, top_k, scopes, timeout_s)
    result = status.get("result") or {}
    if as_json:
        print(
            json.dumps(
                {
                    "instance_id": status["instance_id"],
                    "status": status["runtime_status"],
                    "answer": result.get("answer"),
                    "citations": result.get("citations", []),
                    "confidence": result.get("confidence"),
                    "timings_ms": result.get("timings_ms", {}),
                    "scopes": result.get("scopes", sorted(set(scopes))),
                    "error": status.get("error"),
                },
                indent=2,
            )
        )
    else:
        from cli.output import print_result

        print_result(status, total_ms=elapsed_ms)
    from cli.exit_codes import for_runtime_status

    return for_runtime_status(status["runtime_status"])
