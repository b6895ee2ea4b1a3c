"""A hundred fuzzed requests over every route of `pipeline serve` (the bench sends 10,000: bench/fuzz_routes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.route_fuzz import fuzz_routes
from tests.processes import Server

pytestmark = pytest.mark.chaos


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "data", {"PIPELINE_LOCAL_EMBEDDER": "hash"}).start(timeout=60)
    yield server
    server.stop()


def test_fuzzed_requests_on_every_route_get_no_5xx_no_hang_and_the_host_runs_on(host: Server) -> None:
    figures = fuzz_routes(host.base_url, 100)
    assert figures.requests == 100
    assert (figures.server_errors, figures.hangs) == (0, 0), figures.first_errors
    assert figures.alive_after and figures.question_after == "Completed", figures
    # The requests reached many handlers, not one 404: reads, starts and refusals of bad input at least. (Which
    # other statuses appear depends on timing: a drawn instance may be running or finished when a request lands.)
    assert {200, 202, 400} <= set(figures.by_status), figures.by_status
