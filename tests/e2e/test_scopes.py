"""Document scopes end to end: `pipeline index --scope`, `pipeline ask --scope`, and `pipeline serve`'s HTTP API
and queue, through real processes on one data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import ROOT

pytestmark = pytest.mark.e2e

QUESTION = "Which ledger code do reimbursements for the Kestrel project use?"
SECRET = "K-4471"


def _documents(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "docs"
    folder.mkdir()
    kestrel = folder / "kestrel.md"
    kestrel.write_text(f"# Kestrel project\n\nReimbursements for the Kestrel project use ledger code {SECRET}.\n")
    travel = folder / "travel.md"
    travel.write_text("# Travel\n\nTravel bookings for any project go through the travel desk.\n")
    return kestrel, travel


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PIPELINE_EVENT_WEBHOOKS"}
    environment["PIPELINE_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _ask(tmp_path: Path, *scope_args: str) -> dict:
    done = _cli(tmp_path, "ask", QUESTION, "--json", *scope_args)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == "Completed", answer
    return answer


def _cites_kestrel(answer: dict) -> bool:
    return any(c["source"].endswith("kestrel.md") for c in answer["citations"]) or SECRET in answer["answer"]


def test_pipeline_ask_sees_a_scoped_document_only_with_its_scope(tmp_path: Path) -> None:
    kestrel, travel = _documents(tmp_path)
    indexed = _cli(tmp_path, "index", str(kestrel), "--scope", "finance")
    assert indexed.returncode == 0 and "1 new or changed" in indexed.stdout, indexed.stderr
    assert _cli(tmp_path, "index", str(travel)).returncode == 0

    unscoped = _ask(tmp_path)
    assert not _cites_kestrel(unscoped) and unscoped["scopes"] == []
    scoped = _ask(tmp_path, "--scope", "finance", "--scope", "audit")
    assert _cites_kestrel(scoped) and SECRET in scoped["answer"]
    assert scoped["scopes"] == ["audit", "finance"]

    # Re-scoping an unchanged file takes effect at once, without re-embedding it.
    rescoped = _cli(tmp_path, "index", str(kestrel), "--scope", "hr")
    assert rescoped.returncode == 0 and "1 with new scopes only" in rescoped.stdout, rescoped.stdout
    assert not _cites_kestrel(_ask(tmp_path, "--scope", "finance"))


@pytest.mark.parametrize("bad", ["*", "fin ance", "finance' or '1' eq '1", "", "x" * 65, "fin\u0430nce"])
def test_a_bad_scope_is_one_line_and_exit_2_for_ask_and_index(tmp_path: Path, bad: str) -> None:
    kestrel, _ = _documents(tmp_path)
    for args, says in (
        (["ask", QUESTION, "--scope", bad], "pipeline: error: invalid question: --scope: a scope name is"),
        (["index", str(kestrel), "--scope", bad], "pipeline: error: invalid --scope:"),
    ):
        done = _cli(tmp_path, *args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.startswith(says), done.stderr
        assert "A-Z a-z 0-9 . _ : -" in done.stderr
    assert not (tmp_path / "data" / "index").exists()  # refused before anything was read or written


def test_serve_filters_http_and_queue_questions_by_scope(serve, tmp_path: Path) -> None:
    kestrel, travel = _documents(tmp_path)
    server = serve()
    assert server.cli("index", str(kestrel), "--scope", "finance").returncode == 0
    assert server.cli("index", str(travel)).returncode == 0
    server.start()

    refused = server.ask({"question": QUESTION, "scopes": ["finance", "x) or (true"]})
    assert refused.status_code == 400
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in problem["errors"]] == ["scopes.1"] and "x) or" not in refused.text

    for request_id, scopes in (("no-scope", None), ("finance", ["finance"])):
        started = server.ask({"question": QUESTION, "request_id": request_id, "scopes": scopes})
        assert started.status_code == 202, started.text
    hidden, shown = server.wait_done("no-scope")["result"], server.wait_done("finance")["result"]
    assert not _cites_kestrel(hidden) and hidden["scopes"] == []
    assert _cites_kestrel(shown) and shown["scopes"] == ["finance"]

    body = json.dumps({"question": QUESTION, "scopes": ["*"]})
    assert server.cli("enqueue", "--raw", body, "--message-id", "q-star").returncode == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = json.loads(server.cli("dead-letters", "--json").stdout)
        if rows:
            break
        time.sleep(0.2)
    (row,) = rows
    assert row["message_id"] == "q-star" and row["reason"] == "InvalidQuestion" and "scopes" in row["description"]
    assert httpx.get(f"{server.base_url}/api/pipeline/q-star", timeout=10).status_code == 404  # never started
