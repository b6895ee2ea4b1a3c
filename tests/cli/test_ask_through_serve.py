"""`pipeline ask` while `pipeline serve` runs on the same state folder: the question goes to that host.

Before, the ask failed (two hosts never share a state folder); now it is answered by the running one. A serve
killed with -9 leaves its note behind unlocked, and the next ask runs a host of its own as if none had run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli.main import main
from cli.serve_record import RECORD_FILE, ServeRecord, published, running_serve
from tests.processes import ROOT, Server

QUESTION = "How does the pipeline retry a failed step?"


def _env(data_dir: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k not in ("PIPELINE_EVENT_WEBHOOKS", "PIPELINE_FAULTS")}
    return {**keep, "PIPELINE_DATA_DIR": str(data_dir), "PIPELINE_CONFIG": "/nonexistent/settings.env"}


def _ask(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "ask", "--json", QUESTION],
        cwd=ROOT,
        env={**_env(data_dir), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_note_is_there_while_its_holder_lives_and_a_note_nobody_holds_is_not(tmp_path: Path) -> None:
    record = ServeRecord(url="http://127.0.0.1:9", app=ROOT, keys=False)
    assert running_serve(tmp_path) is None
    with published(tmp_path, record):
        assert running_serve(tmp_path) == record
    assert running_serve(tmp_path) is None and not (tmp_path / RECORD_FILE).exists()
    # What a serve killed with -9 leaves: the note, with no lock on it.
    (tmp_path / RECORD_FILE).write_text(json.dumps({"url": record.url, "app": str(ROOT), "keys": False}))
    assert running_serve(tmp_path) is None


def test_a_note_that_cannot_be_written_is_a_warning_and_the_serve_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unwritable = tmp_path / "a-file-not-a-folder"
    unwritable.write_text("")
    with published(unwritable, ServeRecord(url="http://127.0.0.1:9", app=ROOT, keys=False)):
        assert running_serve(unwritable) is None
    assert "will not be sent to this serve" in caplog.text


def test_a_serve_of_another_app_on_the_folder_is_named_and_nothing_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    other = ServeRecord(url="http://127.0.0.1:9", app=tmp_path / "other-app", keys=False)
    with published(data, other):
        assert main(["ask", QUESTION]) == 1
    said = capsys.readouterr().err
    assert "`pipeline serve` is running on" in said and "for another app" in said and str(other.app) in said
    assert not (data / "durable.sqlite").exists()  # no host of its own was started


def _wait_for_the_model(pid: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while "onnxruntime" not in Path(f"/proc/{pid}/maps").read_text():
        assert time.monotonic() < deadline, "the serve did not load its model before the first question"
        time.sleep(0.1)


@pytest.mark.e2e
def test_ask_is_answered_by_the_running_serve_with_its_model_loaded_then_by_its_own_host(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = Server(data, _env(data)).start()
    try:
        assert server.proc is not None
        _wait_for_the_model(server.proc.pid)  # loaded at the start, so the first question does not wait for it
        asked = _ask(data)
        assert asked.returncode == 0, asked.stderr
        answer = json.loads(asked.stdout)
        assert answer["status"] == "Completed" and answer["citations"]
        # The run is the serve's: its own status route knows it.
        seen = httpx.get(f"{server.base_url}/api/pipeline/{answer['instance_id']}", timeout=10).json()
        assert seen["runtime_status"] == "Completed"
        assert seen["result"]["answer"] == answer["answer"]
    finally:
        server.kill()
    assert (data / RECORD_FILE).exists()  # left behind, unlocked
    again = _ask(data)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "Completed"
