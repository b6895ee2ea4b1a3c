"""Issue 24 end to end: change one fact in one document and re-index, with `pipeline serve` running.

Exactly the answer that cited the old passage gets a `DurableAIPipeline.Answer.Stale` event, once, at the
webhook; `--reanswer` queues its question again (the serve is running, so to the local queue it consumes)
and the new run's Completed event quotes the new fact with `metadata.supersedes`; the status route (what
`pipeline status` prints) and the monitor page, in a real browser, show the old answer as stale with a
link to the newer run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingestion.ingest import index_paths
from providers.local.hashing_embedder import HashingEmbedder
from providers.local.sqlite_index import SqliteIndex
from tests.e2e.test_monitor_browser import CHROMIUM_ARGS, _chromium
from tests.processes import Server, Webhook

pytestmark = pytest.mark.e2e

STALE = "DurableAIPipeline.Answer.Stale"
FERRY = """# Harbour ferry

## Timetable

The harbour ferry leaves the north pier every 20 minutes from 6 am to midnight.

## Fares

A single ferry ticket costs 4 euros; children under 12 travel free.
"""


def _of(events: list[dict[str, Any]], kind: str, subject: str | None = None) -> list[dict[str, Any]]:
    return [e for e in events if e["type"].endswith(kind) and (subject is None or e["subject"] == subject)]


def test_one_changed_fact_stales_exactly_its_answer_once_and_the_reanswer_quotes_the_new_fact(
    serve: Callable[..., Server], webhook: Webhook, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text(FERRY)
    server = serve(PIPELINE_LOCAL_EMBEDDER="hash", PIPELINE_EVENT_WEBHOOKS=webhook.url)
    with SqliteIndex(tmp_path / "data" / "index", embedder=HashingEmbedder()) as index:  # in process: fast
        index_paths([docs], index=index, embedder=HashingEmbedder(), recreate=True)
    server.start()
    questions = {
        "fare": "How much is a single ferry ticket?",
        "times": "How often does the ferry leave the north pier?",
        "fare-2": "Do children pay for the ferry?",
    }
    for request_id, question in questions.items():
        assert server.ask({"question": question, "request_id": request_id}).status_code == 202
    cited = {rid: [c["quote"] for c in server.wait_done(rid)["result"]["citations"]] for rid in questions}
    # The answers that quoted the passage about fares, and only they, must go stale.
    expected = {f"pipeline/{rid}" for rid, quotes in cited.items() if any("4 euros" in q for q in quotes)}
    assert "pipeline/fare" in expected and "pipeline/times" not in expected, cited

    (docs / "ferry.md").write_text(FERRY.replace("4 euros", "5 euros"))
    again = server.cli("index", str(docs), "--reanswer")
    assert again.returncode == 0, again.stderr
    n = len(expected)
    assert f"{n} stale answer(s)" in again.stderr and f"queued {n} re-answer run(s)" in again.stderr

    events = webhook.wait_for(lambda seen: len(_of(seen, "Completed")) == len(questions) + n, timeout=60)
    stale_events = _of(events, "Stale")
    assert sorted(e["subject"] for e in stale_events) == sorted(expected)
    (stale,) = _of(events, "Stale", "pipeline/fare")
    assert stale["data"]["sources"] == [str(docs / "ferry.md")]
    newer = stale["data"]["superseded_by"]
    (fresh,) = _of(events, "Completed", f"pipeline/{newer}")
    assert "5 euros" in fresh["data"]["answer"] and fresh["data"]["metadata"] == {"supersedes": "fare"}

    shown = server.status("fare")
    assert "4 euros" in shown["result"]["answer"] and shown["stale"]["superseded_by"] == newer
    assert "stale" not in server.status("times")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{server.base_url}/monitor/#/run/fare")
        page.wait_for_selector("#run-stale:not([hidden])", timeout=15_000)
        assert "ferry.md changed" in page.inner_text("#run-stale")
        page.click(f"#run-stale a[href='#/run/{newer}']")
        page.wait_for_selector("#run-answer :text('5 euros')", timeout=15_000)
        assert page.is_hidden("#run-stale")
        assert page.locator("#run-facts a[href='#/run/fare']").inner_text() == "fare"  # and back to the stale run
        browser.close()
    assert len(_of(webhook.events, "Stale")) == n  # each once
