"""Issue 28, the monitor's runs list in Chromium: precise durations, the question, a p95 a cold run cannot set,
the run's confidence, and dead letters with their time and an unescaped body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.test_monitor_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.processes import Server

pytestmark = pytest.mark.e2e

QUESTION = "What happens to an invalid queue message?"


def _ms(value: float) -> str:
    """dom.js formatMs, for the values a local run takes."""
    return f"{round(value)} ms" if value < 1000 else f"{value / 1000:.{2 if value < 10000 else 1}f} s"


def test_runs_list_dead_letters_and_run_page(serve: Any, browser: Any) -> None:  # noqa: F811
    # Seeded transient faults: some runs retry the answer step before they complete.
    server: Server = serve(
        PIPELINE_FAULTS="generation=transient:0.5", PIPELINE_FAULTS_SEED="1", PIPELINE_RETRY_MAX_ATTEMPTS="6"
    ).start()
    assert server.ask({"question": QUESTION, "request_id": "first"}).status_code == 202
    result = server.wait_done("first")["result"]
    retried, clean = None, []
    for n in range(4):  # one at a time, so the seeded faults fall the same way every run
        assert server.ask({"question": "What is a task hub?", "request_id": f"again-{n}"}).status_code == 202
        server.wait_done(f"again-{n}")
        status = httpx.get(f"{server.base_url}/runtime/webhooks/durabletask/instances/again-{n}", timeout=10).json()
        if status["runtimeStatus"] == "Completed" and (status["customStatus"] or {}).get("retries"):
            retried = (f"again-{n}", status["customStatus"]["retries"])
        elif status["runtimeStatus"] == "Completed":
            clean.append(f"again-{n}")
    assert retried is not None and clean, "the seeded faults did not make one retried and one clean run"
    body = {"question": "hi", "colour": "red"}  # a valid JSON body that is not a valid Question
    assert server.cli("enqueue", "--raw", json.dumps(body), "--message-id", "bad-1").returncode == 0

    def dead_letters() -> list[dict[str, Any]]:
        return httpx.get(f"{server.base_url}/api/monitor/dead-letters", timeout=10).json()["items"]

    import time

    deadline = time.monotonic() + 30
    while not any(d["message_id"] == "bad-1" for d in dead_letters()):
        assert time.monotonic() < deadline, "the invalid message was not dead-lettered"
        time.sleep(0.2)

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.base_url}/monitor")
    row = page.locator('#runs tbody tr[data-instance="first"]')
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == QUESTION
    # The run's own elapsed time in milliseconds, not the whole-second status times.
    assert cells[-1] == _ms(result["elapsed_ms"]), (cells, result["elapsed_ms"])
    retried_row = page.locator(f'#runs tbody tr[data-instance="{retried[0]}"]').locator("td").all_inner_texts()
    assert f"retried {retried[1]}×" in retried_row[3], retried_row
    clean_row = page.locator(f'#runs tbody tr[data-instance="{clean[0]}"]').locator("td").all_inner_texts()
    assert "retried" not in clean_row[3], clean_row
    # A handful of runs is no basis for a p95: the cold first run must not stand as the hour's p95.
    page.wait_for_selector("#chart-steps tbody th")
    steps = {line.split("\t")[0]: line for line in page.locator("#chart-steps tbody tr").all_inner_texts()}
    assert set(steps) == {"embed_query", "search_documents", "generate_answer", "publish_result"}, steps
    assert all("(n < 20)" in line for line in steps.values()), steps

    page.goto(f"{server.base_url}/monitor/#/run/first")
    page.wait_for_selector("#run-facts dd")
    assert f"Confidence\n{result['confidence']:.2f}" in page.inner_text("#run-facts")

    page.goto(f"{server.base_url}/monitor/#/dead-letters")
    page.wait_for_selector("#dead-letters table")
    letter = page.locator("#dead-letters tbody tr", has_text="bad-1")
    texts = letter.locator("td").all_inner_texts()
    assert texts[0] == "bad-1" and texts[1] not in ("", "–")  # when it was dead-lettered
    shown = texts[-1]
    assert json.loads(shown) == body and "\\" not in shown, shown
    assert errors == []
