"""`pipeline replay` on files that cannot be replayed: one clear error each, and the rest still checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli.main import main
from embedded_host.durable.recorded import RecordingError, read_recording

CORPUS = Path(__file__).resolve().parents[1] / "replay_corpus"


def _clean() -> dict:
    return json.loads((CORPUS / "clean.json").read_text())


def _write(folder: Path, name: str, value: object) -> None:
    (folder / name).write_text(value if isinstance(value, str) else json.dumps(value))


def test_each_bad_file_gets_its_own_error_and_every_other_file_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(CORPUS / "clean.json", tmp_path / "a-good.json")
    _write(tmp_path, "b-malformed.json", '{"runtimeStatus": "Completed", "historyEvents": [')
    other = _clean()
    other["name"] = "billing_orchestrator"
    _write(tmp_path, "c-other.json", other)
    truncated = _clean()
    truncated["historyEvents"] = truncated["historyEvents"][:-3]
    _write(tmp_path, "d-truncated.json", truncated)
    newer = _clean()
    newer["historyEvents"].insert(3, {"EventType": "ExecutionPaused", "Timestamp": "2026-01-01T00:00:00Z"})
    _write(tmp_path, "e-newer.json", newer)
    no_output = _clean()
    for event in no_output["historyEvents"]:
        event.pop("Result", None)
    _write(tmp_path, "f-no-output.json", no_output)
    shutil.copy(CORPUS / "retry.json", tmp_path / "g-good.json")
    lines = tmp_path / "h.jsonl"
    retry_line = json.dumps(json.loads((CORPUS / "retry.json").read_text()))
    lines.write_text(json.dumps(_clean()) + "\n" + "{not json\n" + retry_line + "\n")

    code = main(["replay", "--json", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    by_source = {Path(r["source"]).name: r for r in report["instances"]}

    assert code == 2  # unreadable files, but nothing diverged
    assert report["summary"] == {"clean": 4, "diverged": 0, "raises": 0, "error": 6}
    assert by_source["a-good.json"]["outcome"] == by_source["g-good.json"]["outcome"] == "clean"
    assert "malformed JSON" in by_source["b-malformed.json"]["message"]
    assert "'billing_orchestrator'" in by_source["c-other.json"]["message"]
    assert "pipeline_orchestrator" in by_source["c-other.json"]["message"]
    assert "truncated history" in by_source["d-truncated.json"]["message"]
    assert "ExecutionPaused" in by_source["e-newer.json"]["message"]
    assert "newer or older" in by_source["e-newer.json"]["message"]
    assert "showHistoryOutput=true" in by_source["f-no-output.json"]["message"]
    assert by_source["h.jsonl:1"]["outcome"] == by_source["h.jsonl:3"]["outcome"] == "clean"
    assert "malformed JSON" in by_source["h.jsonl:2"]["message"]


def test_a_history_that_does_not_start_at_the_beginning_is_called_truncated() -> None:
    doc = _clean()
    doc["historyEvents"] = doc["historyEvents"][2:]
    with pytest.raises(RecordingError, match=r"truncated.*TaskCompleted"):
        read_recording(doc)


def test_a_status_without_history_says_how_to_get_one() -> None:
    doc = _clean()
    del doc["historyEvents"]
    with pytest.raises(RecordingError, match="showHistory=true"):
        read_recording(doc)


def test_sdk_shaped_history_with_an_unknown_event_number_is_refused() -> None:
    doc = {
        "name": "pipeline_orchestrator",
        "instanceId": "x",
        "runtimeStatus": "Running",
        "input": {},
        "historyEvents": [
            {"EventType": 0, "EventId": -1, "Timestamp": "2026-01-01T00:00:00Z", "Name": "p"},
            {"EventType": 21, "EventId": -1, "Timestamp": "2026-01-01T00:00:00Z"},
        ],
    }
    with pytest.raises(RecordingError, match="historyEvents\\[1\\]"):
        read_recording(doc)


def test_no_histories_at_all_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "missing.json")]) == 2
    assert "no such file or folder" in capsys.readouterr().out
