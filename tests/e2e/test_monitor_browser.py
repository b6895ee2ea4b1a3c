"""The monitor page in a real browser (Debian's chromium driven by Playwright) against `pipeline serve`.

Three serves on one data dir leave runs of every kind behind: some that retried (transient generation
faults), one that failed for good (permanent retrieval faults), and, on the serve the browser talks to, one
held in its first step (slow embeddings) to terminate. Screenshots go to the test's tmp dir; set
MONITOR_SCREENSHOT=PATH to also write a 1280×800 view of the retried run there (how docs/monitor.png is made).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import Server

pytestmark = pytest.mark.e2e

DURABLE = "/runtime/webhooks/durabletask/instances"
XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> What is a task hub?'
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _candidates() -> list[str | None]:
    return [os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")]


def _chromium() -> str:
    for candidate in _candidates():
        if candidate and Path(candidate).is_file():
            return candidate
    reason = "no chromium executable (install Debian's `chromium`, as .ci/run does, or set CHROMIUM)"
    if os.environ.get("PIPELINE_REQUIRE_BROWSER"):  # CI: a missing browser is a failure, not a pass untested
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _history(server: Server, instance_id: str) -> dict[str, Any]:
    url = f"{server.base_url}{DURABLE}/{instance_id}?showHistory=true&showHistoryOutput=true"
    return httpx.get(url, timeout=10).json()


def _failures(server: Server, instance_id: str) -> int:
    return sum(e["EventType"] == "TaskFailed" for e in _history(server, instance_id)["historyEvents"])


def _wait(predicate: Any, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_monitor_lists_opens_terminates_and_purges(serve, browser, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    flaky = serve(
        PIPELINE_FAULTS="generation=transient:0.5", PIPELINE_FAULTS_SEED="1", PIPELINE_RETRY_MAX_ATTEMPTS="6"
    ).start()
    ids = [f"flaky-{i}" for i in range(4)]
    outcome = {}
    for instance_id in ids:  # one at a time, so the seeded faults fall the same way every run
        assert flaky.ask({"question": "What is a task hub?", "request_id": instance_id}).status_code == 202
        outcome[instance_id] = flaky.wait_done(instance_id)["runtime_status"]
    assert flaky.ask({"question": XSS, "request_id": "xss"}).status_code == 202
    flaky.wait_done("xss")
    completed = [i for i in ids if outcome[i] == "Completed"]
    retried = max(completed, key=lambda i: _failures(flaky, i))
    assert _failures(flaky, retried) >= 1, "the seeded faults made no completed run retry"
    spare = [i for i in completed if i != retried]
    assert len(spare) >= 2, outcome
    flaky.stop()

    broken = serve(PIPELINE_FAULTS="retrieval=permanent:1").start()
    assert broken.ask({"question": "What is a task hub?", "request_id": "doomed"}).status_code == 202
    assert broken.wait_done("doomed")["runtime_status"] == "Failed"
    broken.stop()

    server = serve(PIPELINE_FAULTS="embeddings=slow:1:15000").start()
    assert server.ask({"question": "What is a task hub?", "request_id": "stuck"}).status_code == 202
    assert server.cli("enqueue", "--raw", "{not json", "--message-id", "poison-1").returncode == 0
    _wait(
        lambda: any(
            d["message_id"] == "poison-1"
            for d in httpx.get(f"{server.base_url}/api/monitor/dead-letters").json()["items"]
        )
    )

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))  # uncaught script errors, never expected
    page.goto(f"{server.base_url}/monitor")
    rows = page.locator("#runs tbody tr")
    rows.first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length >= 7")
    listed = {tr.get_attribute("data-instance"): tr.inner_text() for tr in rows.all()}
    assert {*ids, "xss", "doomed", "stuck"} <= set(listed)
    assert "Failed" in listed["doomed"] and "Completed" in listed[retried]
    assert all(outcome[i] in listed[i] for i in ids)
    assert "Running" in listed["stuck"] and "embed_query" in listed["stuck"]
    page.wait_for_function(
        "() => [...document.querySelectorAll('#chart-runs rect')].some(r => Number(r.getAttribute('height')) > 0)"
    )
    page.wait_for_selector("#chart-steps tbody th")  # p50/p95 rows from the completed runs' timings
    page.screenshot(path=str(shots / "runs-1280.png"), full_page=False)

    # Filters: status and id prefix go to the Durable API; only matching rows stay.
    page.check("#filters input[value=Failed]")
    page.click("#filters button[type=submit]")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#runs tbody tr')].every(r => r.dataset.instance === 'doomed')"
    )
    page.uncheck("#filters input[value=Failed]")
    page.fill("#filters input[name=prefix]", "flaky-")
    page.select_option("#filters select[name=top]", "10")
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 4")
    assert page.locator("#next-page").is_disabled()

    # Keyboard: Tab reaches a run's link, Enter opens it.
    page.focus("#filters button[type=submit]")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#runs') !== null"):
            break
    assert page.evaluate("document.activeElement.tagName") == "A"
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-run:not([hidden])")

    # The retried run: its timeline shows the failed attempt with its error kind, the retry timer, the success.
    page.goto(f"{server.base_url}/monitor/#/run/{retried}")
    page.wait_for_selector(".g-row")
    failed_rows = page.locator(".g-row.activity.failed")
    assert failed_rows.count() == _failures(server, retried)
    assert "failed: transient" in failed_rows.first.inner_text()
    assert page.locator(".g-row.timer.fired").count() >= 1
    assert "retry wait (generate_answer)" in page.locator(".g-row.timer").first.inner_text()
    assert page.locator(".g-row.activity.completed", has_text="generate_answer · attempt").count() == 1
    assert page.locator("#run-answer .citations li").count() >= 1
    assert "DurableAIPipeline.Answer.Completed" in page.inner_text("#run-events")
    page.screenshot(path=str(shots / "run-retried.png"), full_page=True)
    if os.environ.get("MONITOR_SCREENSHOT"):
        page.locator("#timeline").scroll_into_view_if_needed()
        page.screenshot(path=os.environ["MONITOR_SCREENSHOT"])

    # The run that failed for good: its failure and error kind, no answer.
    page.goto(f"{server.base_url}/monitor/#/run/doomed")
    page.wait_for_selector(".g-row.activity.failed")
    assert "failed: rejected" in page.inner_text(".g-row.activity.failed")
    assert "search_documents" in page.inner_text("#run-answer")
    assert "DurableAIPipeline.Answer.Failed" in page.inner_text("#run-events")

    # A question holding markup is shown as text and never runs.
    page.goto(f"{server.base_url}/monitor/#/run/xss")
    page.wait_for_function("() => document.getElementById('run-question').textContent.includes('<script>')")
    assert page.inner_text("#run-question") == XSS
    assert page.locator("#run-question *").count() == 0 and page.evaluate("window.__pwned") is None

    # Terminate the run held in its first step: confirmed in a dialog, then shown as Terminated.
    page.goto(f"{server.base_url}/monitor/#/run/stuck")
    page.wait_for_selector(".g-row.activity.running")
    page.click("[data-action=terminate]")
    page.wait_for_selector("#confirm[open]")
    page.screenshot(path=str(shots / "confirm-terminate.png"))
    page.click("#confirm-ok")
    page.wait_for_function(
        "() => document.querySelector('#run-facts .status').textContent === 'Terminated'", timeout=15000
    )
    assert httpx.get(f"{server.base_url}{DURABLE}/stuck").json()["runtimeStatus"] == "Terminated"

    # Purge: cancel first (nothing happens), then confirm (gone from the API, back to the list).
    page.goto(f"{server.base_url}/monitor/#/run/{spare[0]}")
    page.wait_for_selector(".g-row")
    page.click("[data-action=purge]")
    page.click("#confirm button[value=cancel]")
    assert httpx.get(f"{server.base_url}{DURABLE}/{spare[0]}").status_code == 200
    page.click("[data-action=purge]")
    page.click("#confirm-ok")
    page.wait_for_selector("#view-runs:not([hidden])")
    assert httpx.get(f"{server.base_url}{DURABLE}/{spare[0]}").status_code == 404

    # An action the API refuses shows its error: here, purging a run someone else purged meanwhile.
    page.goto(f"{server.base_url}/monitor/#/run/{spare[1]}")
    page.wait_for_selector(".g-row")
    httpx.delete(f"{server.base_url}{DURABLE}/{spare[1]}")
    page.click("[data-action=purge]")
    page.click("#confirm-ok")
    page.wait_for_selector("#banner:not([hidden])")
    assert "HTTP 404" in page.inner_text("#banner")

    # Unknown instance: a clear empty state.
    page.goto(f"{server.base_url}/monitor/#/run/no-such-run")
    page.wait_for_selector("#run-empty:not([hidden])")
    assert "No run has the id no-such-run" in page.inner_text("#run-empty")

    # Dead letters, with reason and original body.
    page.goto(f"{server.base_url}/monitor/#/dead-letters")
    page.wait_for_selector("#dead-letters table")
    assert "InvalidJson" in page.inner_text("#dead-letters") and "poison-1" in page.inner_text("#dead-letters")
    page.goto(f"{server.base_url}/monitor/#/undelivered")
    page.wait_for_selector("#undelivered .empty")

    # Narrow window: still readable (no horizontal scroll of the page itself).
    page.set_viewport_size({"width": 420, "height": 800})
    page.goto(f"{server.base_url}/monitor/#/run/{retried}")
    page.wait_for_selector(".g-row")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(shots / "run-narrow.png"), full_page=True)

    # An API that cannot be reached shows a visible message, not an empty list.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{server.base_url}/monitor/")
    page.click(".connection summary")
    page.fill("#base-url", "https://127.0.0.1:9")
    page.click("#connection-form button[type=submit]")
    page.wait_for_selector("#banner:not([hidden])")
    assert "Cannot reach https://127.0.0.1:9" in page.inner_text("#banner")
    page.click("#connection-clear")
    assert not errors, errors
    page.close()
    assert sorted(p.name for p in shots.iterdir()) == [
        "confirm-terminate.png",
        "run-narrow.png",
        "run-retried.png",
        "runs-1280.png",
    ]
