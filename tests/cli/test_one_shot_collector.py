"""The process's own `pipeline ask` runs without the cyclic collector, freezes what is alive, runs the exit
handlers and ends the process without the interpreter's teardown; a caller of `main([...])` keeps its
collector as it was, and its process."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import cli.main
from cli.main import main


class _Ended(Exception):
    """Stands for the end of the process in these tests."""


@pytest.fixture
def collector_restored() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()


def test_the_process_own_ask_leaves_the_collector_off_freezes_and_ends_after_its_exit_handlers(
    collector_restored: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gc.unfreeze()
    events: list[object] = []
    monkeypatch.setattr(cli.main.atexit, "_run_exitfuncs", lambda: events.append("exit handlers"))

    def end(code: int) -> None:
        events.append(code)
        raise _Ended

    monkeypatch.setattr(cli.main.os, "_exit", end)
    monkeypatch.setattr(sys, "argv", ["pipeline", "ask", ""])  # refused before any work: exit 2
    with pytest.raises(_Ended):
        main()
    assert events == ["exit handlers", 2]
    assert "pipeline: error:" in capsys.readouterr().err
    assert not gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_main_with_arguments_keeps_the_collector_as_it_was(
    collector_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    gc.unfreeze()
    assert main(["ask", ""]) == 2
    capsys.readouterr()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_another_command_keeps_its_collector(
    collector_restored: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("# Doc\n\nText.\n")
    monkeypatch.setattr(sys, "argv", ["pipeline", "index", str(doc), "--scope", "a b"])  # refused by the command
    assert main() == 2
    assert "invalid --scope" in capsys.readouterr().err
    assert gc.isenabled()
