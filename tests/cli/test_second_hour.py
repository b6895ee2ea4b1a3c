"""Issue 28, the second hour of a new user: each rough edge through a real `pipeline` process."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT

QUESTION = "How does the pipeline retry a failed step?"


def _env(**extra: str) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PIPELINE_EVENT_WEBHOOKS", "PIPELINE_DATA_DIR", "PIPELINE_FAULTS", "PIPELINE_CONFIG")
    }
    # No user settings file of the machine's owner leaks in: point at one that does not exist unless given.
    environment["PIPELINE_CONFIG"] = str(Path(extra.pop("home", "/nonexistent")) / "settings.env")
    environment.update(extra)
    return environment


def _cli(args: list[str], env: dict[str, str], cwd: Path = ROOT, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# 1 -------------------------------------------------------------------------------------------------------------


def test_a_new_state_folder_is_announced_once_and_the_settings_file_sets_it_for_every_folder(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.env").write_text("# where my pipeline keeps its state\nPIPELINE_DATA_DIR=../state\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _env(home=str(config))
    first = _cli(["enqueue", "first question"], env, cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    state = tmp_path / "state"
    assert state.is_dir() and not (elsewhere / ".pipeline").exists()
    (notice,) = [line for line in first.stderr.splitlines() if "new state folder" in line]
    assert str(state) in notice and "only the bundled sample corpus" in notice and "PIPELINE_DATA_DIR" in notice
    again = _cli(["enqueue", "second question"], env, cwd=tmp_path)  # another folder, the same state
    assert again.returncode == 0 and "new state folder" not in again.stderr, again.stderr
    # The environment still wins over the file, for one shell.
    other = _cli(["enqueue", "third"], {**env, "PIPELINE_DATA_DIR": str(tmp_path / "other")}, cwd=elsewhere)
    assert str(tmp_path / "other") in other.stderr and (tmp_path / "other").is_dir()


# 2, 4 and 9 share one state folder: its first ask builds the sample index ---------------------------------------


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("second-hour") / "data"


@pytest.mark.e2e
def test_the_first_ask_says_it_builds_the_sample_index_and_the_answer_carries_confidence(state: Path) -> None:
    env = _env(PIPELINE_DATA_DIR=str(state))
    first = _cli(["ask", QUESTION, "--json"], env)
    assert first.returncode == 0, first.stderr
    assert "building the sample index" in first.stderr and "built the sample index:" in first.stderr
    answer = json.loads(first.stdout)
    assert 0.5 < answer["confidence"] <= 1 and answer["citations"]
    # A near-topic question the corpus does not answer: refused, with a confidence below the answered one.
    off = _cli(["ask", "Can I make gluten-free sourdough with rice flour?", "--json"], env)
    assert off.returncode == 0 and "sample index" not in off.stderr, off.stderr
    refused = json.loads(off.stdout)
    assert refused["citations"] == [] and 0 <= refused["confidence"] < answer["confidence"]
    # The same figure in the human form, the stored result and the Completed event.
    shown = _cli(["status", answer["instance_id"]], env)
    assert f"confidence {answer['confidence']:.2f}" in shown.stdout, shown.stdout
    status = json.loads(_cli(["status", answer["instance_id"], "--json"], env).stdout)
    assert status["result"]["confidence"] == answer["confidence"]
    events = [json.loads(line) for line in _cli(["events", "--json"], env).stdout.splitlines()]
    completed = [e for e in events if e["data"].get("instance_id") == answer["instance_id"]]
    assert completed[0]["data"]["confidence"] == answer["confidence"]


@pytest.mark.e2e
def test_status_of_a_failed_run_exits_1_like_ask_and_events_reads_in_one_line(state: Path) -> None:
    env = _env(PIPELINE_DATA_DIR=str(state), PIPELINE_FAULTS="generation=permanent:1")
    failed = _cli(["ask", "What does the monitor show?", "--json"], env)
    assert failed.returncode == 1, failed.stderr
    instance = json.loads(failed.stdout)["instance_id"]
    status = _cli(["status", instance], env)
    assert status.returncode == 1 and "Failed" in status.stdout, status.stdout + status.stderr
    unknown = _cli(["status", "no-such-run"], env)
    assert unknown.returncode == 2 and "no run with id 'no-such-run'" in unknown.stderr
    # 7: one readable line per event, filters, --json for the raw events.
    lines = _cli(["events", "--instance", instance], env).stdout.splitlines()
    (line,) = lines
    assert line.split("  ")[1:3] == ["Failed", instance] and "at generate_answer" in line and len(line) < 300
    completed = _cli(["events", "--type", "Completed", "--tail", "1"], env).stdout.splitlines()
    assert len(completed) == 1 and "  Completed  " in completed[0] and "confidence" in completed[0]
    raw = _cli(["events", "--json", "--type", "failed"], env).stdout.splitlines()
    assert [json.loads(r)["type"] for r in raw] == ["DurableAIPipeline.Answer.Failed"]


@pytest.mark.e2e
def test_a_run_not_finished_exits_3_from_ask_and_status(state: Path) -> None:
    env = _env(PIPELINE_DATA_DIR=str(state), PIPELINE_FAULTS="embeddings=slow:1:20000")
    waited = _cli(["ask", "What is a task hub?", "--timeout", "2"], env)
    assert waited.returncode == 3, waited.stderr
    instance = re.search(r"instance ([0-9a-f]{32})", waited.stderr).group(1)  # type: ignore[union-attr]
    status = _cli(["status", instance], env)
    assert status.returncode == 3 and instance in status.stdout, status.stdout + status.stderr


@pytest.mark.e2e
def test_an_answer_leads_with_its_key_sentence(state: Path) -> None:
    # 10: the sentence that answers best opens the answer, not the first one of the best passage.
    done = _cli(["ask", "Can I use Ollama instead of Azure OpenAI?", "--json"], _env(PIPELINE_DATA_DIR=str(state)))
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)["answer"].split(" [", 1)[0]
    assert "Ollama" in first and "OPENAI_BASE_URL" in first, first


@pytest.mark.e2e
def test_a_chat_model_that_cannot_say_gives_a_null_confidence(tmp_path: Path) -> None:
    from tests.security.fakes import FakeChat

    chat = FakeChat(answer="The zebra protocol rotates keys hourly [1].")
    notes = tmp_path / "zebra.md"
    notes.write_text("# The zebra protocol\n\nThe zebra protocol rotates the signing keys every hour.\n")
    env = _env(
        PIPELINE_DATA_DIR=str(tmp_path / "data"),
        OPENAI_BASE_URL=chat.url,
        OPENAI_CHAT_MODEL="fake-chat",
        OPENAI_API_KEY="not-a-real-key",
    )
    try:
        assert _cli(["index", str(notes)], env).returncode == 0
        done = _cli(["ask", "What is the zebra protocol?", "--json"], env)
    finally:
        chat.close()
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["citations"] and answer["confidence"] is None
    stored = json.loads(_cli(["status", answer["instance_id"], "--json"], env).stdout)["result"]
    assert "confidence" not in stored  # left out of the result and the event when unknown


def test_status_of_a_dead_lettered_message_points_to_dead_letters(tmp_path: Path) -> None:
    from embedded_host import LocalQueue, state_path

    env = _env(PIPELINE_DATA_DIR=str(tmp_path / "data"))
    assert _cli(["enqueue", "--raw", '{"question": ""}', "--message-id", "bad-1"], env).returncode == 0
    with LocalQueue(state_path(tmp_path / "data"), "questions") as queue:
        (message,) = queue.receive(max_messages=1)
        queue.dead_letter(message, reason="InvalidQuestion", description="question: the question is empty")
    done = _cli(["status", "bad-1"], env)
    assert done.returncode == 2 and "dead-lettered" in done.stderr and "pipeline dead-letters" in done.stderr


# 3 -------------------------------------------------------------------------------------------------------------


def test_replay_of_an_empty_export_passes_and_says_nothing_was_in_flight(tmp_path: Path) -> None:
    env = _env(PIPELINE_DATA_DIR=str(tmp_path / "data"))
    assert _cli(["enqueue", "waiting in the queue, not in flight"], env).returncode == 0  # state, and no run
    exported = _cli(["export", "--status", "Running,Pending", str(tmp_path / "histories")], env)
    assert exported.returncode == 0 and "exported 0 histories" in exported.stdout, exported.stderr
    done = _cli(["replay", str(tmp_path / "histories")], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing was in flight" in done.stdout
    # The README's gate also replays the recorded corpus: the empty export is passed over, said once.
    gate = _cli(["replay", str(tmp_path / "histories"), str(ROOT / "tests" / "replay_corpus")], env)
    assert gate.returncode == 0 and gate.stdout.count("no histories") == 1, gate.stdout + gate.stderr
    assert _cli(["replay", str(tmp_path / "missing")], env).returncode == 2  # a wrong path is still an error


# 5 -------------------------------------------------------------------------------------------------------------


def test_index_lists_what_it_skipped_and_warns_when_nothing_was_written(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.rst").write_text("Guide\n=====\n\nSome reStructuredText.\n")
    (docs / "headings.md").write_text("# Title\n\n## Only headings\n")
    (docs / "node_modules").mkdir()
    (docs / "node_modules" / "readme.md").write_text("# A dependency\n\nNot one of my documents.\n")
    env = _env(PIPELINE_DATA_DIR=str(tmp_path / "data"), PIPELINE_LOCAL_EMBEDDER="hash")
    done = _cli(["index", str(docs)], env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"skipped {docs / 'guide.rst'}: file type .rst is not read from a folder" in done.stderr
    assert "headings.md: no text to index" in done.stderr
    assert f"skipped {docs / 'node_modules'}/: a folder the walk skips" in done.stderr
    assert "warning: nothing was written to the index" in done.stderr
    (docs / "notes.md").write_text("# Notes\n\nThe backup runs every night at two.\n")
    done = _cli(["index", str(docs)], env)
    assert done.returncode == 0, done.stderr
    assert "join what the index already holds (the bundled sample corpus" in done.stderr
    assert "--recreate" in done.stderr and "warning" not in done.stderr


def test_index_help_describes_its_arguments() -> None:
    done = _cli(["index", "--help"], _env())
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "PATH files or folders" in text and "--recreate empty the index first" in text
    assert "join the bundled sample corpus" in text


# 8 -------------------------------------------------------------------------------------------------------------


def test_a_mistyped_flag_shows_the_subcommand_usage_and_the_flag_meant() -> None:
    done = _cli(["ask", "--topk", "5", "hello"], _env())
    assert done.returncode == 2
    assert done.stderr.startswith("usage: pipeline ask ") and "did you mean --top-k?" in done.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["ask", "   "], "invalid question: the question is empty"),
        (["ask", "hello", "--top-k", "50"], "invalid question: --top-k must be a whole number from 1 to 20"),
        (["enqueue", "hello", "--top-k", "0"], "invalid question: --top-k must be a whole number from 1 to 20"),
        (["enqueue", " \t "], "invalid question: the question is empty"),
    ],
)
def test_errors_name_the_flag_in_one_wording(args: list[str], said: str, tmp_path: Path) -> None:
    done = _cli(args, _env(PIPELINE_DATA_DIR=str(tmp_path / "data")))
    assert done.returncode == 2 and f"pipeline: error: {said}" in done.stderr, done.stderr
    assert "top_k" not in done.stderr


def test_every_reason_of_a_bad_questions_file_is_listed(tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        '{"question": "fine"}\n{"question": "", "top_k": 99}\nnot json\n{"question": "x", "colour": "red"}\n'
    )
    done = _cli(["enqueue", "--file", str(questions)], _env(PIPELINE_DATA_DIR=str(tmp_path / "data")))
    assert done.returncode == 2
    for reason in (
        f"{questions}:2: field 'question' is empty",
        f"{questions}:2: field 'top_k' must be a whole number from 1 to 20",
        f"{questions}:3: not valid JSON",
        f"{questions}:4: unknown field 'colour' is not allowed",
    ):
        assert reason in done.stderr, done.stderr
    assert "4 problem(s), nothing sent" in done.stderr and not (tmp_path / "data").exists()


def test_a_second_host_on_a_taken_port_is_told_to_use_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _cli(["serve", "--port", str(port)], _env(PIPELINE_DATA_DIR=str(tmp_path / "data")), timeout=120)
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "choose another port with --port " in done.stderr, done.stderr
