"""The CLI's rough edges from a newcomer's first hour: arguments checked up front, pipes, webhooks."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from cli.serve import _listening_url
from tests.processes import ROOT, free_port

QUESTION = "How does the pipeline retry a failed step?"


def _cli(args: list[str], tmp_path: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PIPELINE_EVENT_WEBHOOKS"}
    environment.update(PIPELINE_DATA_DIR=str(tmp_path / "data"), **env)
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "soon"])
def test_a_timeout_that_cannot_be_met_is_refused(timeout: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ask", QUESTION, "--timeout", timeout])
    assert exited.value.code == 2
    assert "--timeout" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "0", "-5", "http"])
def test_a_port_outside_1_to_65535_is_refused(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", port])
    assert exited.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_the_banner_names_the_address_actually_bound() -> None:
    assert _listening_url("127.0.0.1", "http://127.0.0.1:7071") == "http://127.0.0.1:7071"
    wildcard = _listening_url("0.0.0.0", "http://127.0.0.1:7071")
    assert wildcard.startswith("http://0.0.0.0:7071") and "all interfaces" in wildcard
    assert _listening_url("::", "http://127.0.0.1:8080").startswith("http://[::]:8080")


def test_a_rejected_question_fails_before_the_host_and_telemetry_are_imported(tmp_path: Path) -> None:
    probe = (
        "import sys; from cli.main import main; code = main(['ask', '   ']); "
        "print(code, sorted(m for m in ('embedded_host', 'telemetry', 'providers', 'httpx') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["2", "[]"], done.stdout + done.stderr
    assert "invalid question: the question is empty" in done.stderr


@pytest.mark.e2e
def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    # `pipeline ask ... | head -2`: the reader is gone before the answer is written.
    read_end, write_end = os.pipe()
    os.close(read_end)
    environment = {**os.environ, "PIPELINE_DATA_DIR": str(tmp_path / "data")}
    environment.pop("PIPELINE_EVENT_WEBHOOKS", None)
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "ask", QUESTION],
        cwd=ROOT,
        env=environment,
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(write_end)
    assert done.returncode == 0 and "BrokenPipe" not in done.stderr and "Exception" not in done.stderr, done.stderr


@pytest.mark.e2e
def test_ask_does_not_wait_for_a_webhook_that_is_down_and_says_so(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/events"  # nothing listens there
    done = _cli(["ask", QUESTION, "--json"], tmp_path, PIPELINE_EVENT_WEBHOOKS=url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "Completed"
    (line,) = [line for line in done.stderr.splitlines() if "pending" in line]
    assert line.startswith("1 webhook delivery pending") and str(tmp_path / "data" / "events.sqlite3") in line
    with sqlite3.connect(tmp_path / "data" / "events.sqlite3") as db:
        assert db.execute("SELECT url, state FROM deliveries").fetchall() == [(url, "pending")]


def test_index_refuses_a_binary_file_named_on_the_command_line(tmp_path: Path) -> None:
    binary = tmp_path / "tool"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    text = tmp_path / "notes"  # no extension, but text: still indexed
    text.write_text("# Notes\n\nA plain text file without an extension is read as text.\n")
    done = _cli(["index", str(binary)], tmp_path)
    assert done.returncode != 0 and f"{binary} is not a document" in done.stderr
    assert "indexed" not in done.stdout
    done = _cli(["index", str(text)], tmp_path)
    assert done.returncode == 0 and "1 new or changed" in done.stdout, done.stderr


def test_index_recreate_says_the_sample_corpus_is_gone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nSomething to index.\n")
    done = _cli(["index", "--recreate", str(notes)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "not the bundled sample corpus" in done.stderr and "pipeline index " in done.stderr
    # Indexing the corpus embeds its 91 chunks and the answerer's ~400 sentences: about 16 s of CPU here.
    done = _cli(["index", "--recreate", str(ROOT / "corpus")], tmp_path, timeout=180)
    assert done.returncode == 0 and "sample corpus" not in done.stderr, done.stderr


def test_raw_bodies_keep_their_exact_bytes_from_the_argument_or_a_file(tmp_path: Path) -> None:
    from embedded_host import LocalQueue, state_path

    not_utf8 = b'{"question": "Qu\xe9?"}'  # Latin-1
    body_file = tmp_path / "body.bin"
    body_file.write_bytes(not_utf8)
    environment = {k: v for k, v in os.environ.items() if k != "PIPELINE_EVENT_WEBHOOKS"}
    environment["PIPELINE_DATA_DIR"] = str(tmp_path / "data")
    for args in (["--raw", not_utf8, "--message-id", "arg"], ["--raw-file", str(body_file), "--message-id", "file"]):
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", "enqueue", *args], cwd=ROOT, env=environment, capture_output=True
        )
        assert done.returncode == 0, done.stderr
    with LocalQueue(state_path(tmp_path / "data"), "questions") as queue:
        assert {m.message_id: m.body for m in queue.peek()} == {"arg": not_utf8, "file": not_utf8}


def _command(line: str) -> str:
    """The program a shell line runs: the first word that is not a `NAME=value` assignment."""
    words = line.split("#", 1)[0].split()
    return next((w for w in words if "=" not in w), "")


@pytest.mark.parametrize(
    "doc",
    [
        "README.md",
        "examples/subscriber/README.md",
        *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md") if "```bash" in p.read_text()),
    ],
)
def test_documented_commands_work_in_a_fresh_shell(doc: str) -> None:
    # No activated venv is assumed: a bare `pipeline` or `python` would be the system's (or missing).
    text = (ROOT / doc).read_text()
    lines = [line for block in text.split("```bash\n")[1:] for line in block.split("```", 1)[0].splitlines()]
    assert lines
    bare = [line for line in lines if _command(line) in ("pipeline", "python")]
    assert not bare, bare
