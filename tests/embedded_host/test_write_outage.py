"""A state file that refuses writes (SQLite's ``max_page_count``: the same SQLITE_FULL a full disk gives).

Root-free and in-process; `tests/chaos/test_machine.py` does the same with a real full tmpfs under
`pipeline serve`.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest

from embedded_host import EmbeddedHost

_UNLIMITED = 1_073_741_823


def test_starts_get_503_while_the_file_is_full_and_the_engine_resumes_without_a_restart(
    run_host, caplog: pytest.LogCaptureFixture
) -> None:
    big = json.dumps({"steps": 3, "pad": "x" * 20_000})  # needs new pages, which the file cannot grow

    async def scenario(host: EmbeddedHost) -> None:
        engine = host.engine
        assert engine is not None
        rpc = f"{host.rpc_base_url}/durabletask/orchestrators"
        async with aiohttp.ClientSession() as http:
            accepted = [await host.start_new("sequence", {"steps": 3, "pad": "y" * 20_000}) for _ in range(3)]
            pages = engine.conn.execute("PRAGMA page_count").fetchone()[0]
            engine.conn.execute(f"PRAGMA max_page_count = {pages}")
            refused = [await http.post(f"{rpc}/sequence", data=json.dumps(big)) for _ in range(5)]
            for response in refused:
                assert response.status == 503
                assert response.headers["Content-Type"].startswith("application/problem+json")
                assert int(response.headers["Retry-After"]) > 0
                assert (await response.json())["status"] == 503
            await asyncio.sleep(0.5)  # the engine loop fails its commits meanwhile, and must not wedge
            assert engine.outage.active
            engine.conn.execute(f"PRAGMA max_page_count = {_UNLIMITED}")
            for instance_id in accepted:
                status = await host.wait_for_completion(instance_id, 15)
                assert status and status["runtimeStatus"] == "Completed" and status["output"] == [1, 2, 3]
            assert not engine.outage.active
            late = await http.post(f"{rpc}/sequence", data=json.dumps(big))
            assert late.status == 202
            status = await host.wait_for_completion((await late.json())["id"], 15)
            assert status and status["runtimeStatus"] == "Completed"

    with caplog.at_level(logging.WARNING, logger="embedded_host.engine"):
        run_host(scenario)
    said = [r.getMessage() for r in caplog.records if r.name == "embedded_host.engine"]
    assert sum("cannot write" in m for m in said) == 1, said  # once for the episode, not per request or retry
    assert sum("writable again" in m for m in said) == 1, said
    assert not any(r.exc_info for r in caplog.records), "no tracebacks for a full disk"
