"""`pipeline ask`: one question through the whole durable pipeline on the embedded host, offline."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from cli.environment import APP_DIR, data_dir, prepare_binding_settings
from cli.errors import CliError
from cli.output import print_result

__all__ = ["run_ask"]


async def _ask(question: str, top_k: int, timeout_s: float) -> dict[str, Any]:
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
        async with httpx.AsyncClient(base_url=host.base_url, timeout=timeout_s) as http:
            started = await http.post("/api/pipeline/start", json={"question": question, "top_k": top_k})
            if started.status_code != 202:
                problem = started.json()
                fields = "; ".join(f"{e['field']}: {e['message']}" for e in problem.get("errors") or [])
                raise CliError(f"{problem.get('title', 'rejected')}: {fields or problem.get('detail', '')}", 2)
            instance_id = started.json()["instance_id"]
            if await host.wait_for_completion(instance_id, timeout=timeout_s) is None:
                raise CliError(f"instance {instance_id} did not finish within {timeout_s:.0f} s")
            return (await http.get(f"/api/pipeline/{instance_id}")).json()
    finally:
        await host.stop()
        _flush_events()


def _flush_events() -> None:
    """Hand pending webhook deliveries a moment before exit (they resume on the next start anyway)."""
    from providers.factory import shutdown

    shutdown(flush_timeout_s=5.0)


def run_ask(question: str, *, top_k: int, as_json: bool, timeout_s: float = 60.0) -> int:
    from telemetry import configure_telemetry

    configure_telemetry()  # exporters from settings/OTEL_*, once per process
    began = time.perf_counter()
    status = asyncio.run(_ask(question, top_k, timeout_s))
    elapsed_ms = (time.perf_counter() - began) * 1000
    result = status.get("result") or {}
    if as_json:
        print(
            json.dumps(
                {
                    "instance_id": status["instance_id"],
                    "status": status["runtime_status"],
                    "answer": result.get("answer"),
                    "citations": result.get("citations", []),
                    "timings_ms": result.get("timings_ms", {}),
                    "error": status.get("error"),
                },
                indent=2,
            )
        )
    else:
        print_result(status, total_ms=elapsed_ms)
    return 0 if status["runtime_status"] == "Completed" else 1
