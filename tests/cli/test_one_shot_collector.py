"""The process's own `pipeline ask` runs without the cyclic collector and freezes what is alive before it
exits (interpreter shutdown then skips it); a caller of `main([...])` keeps its collector as it was."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main


@pytest.fixture
def collector_restored() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()


def test_the_process_own_ask_leaves_the_collector_off_and_freezes_at_the_end(
    collector_restored: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gc.unfreeze()
    monkeypatch.setattr(sys, "argv", ["pipeline", "ask", ""])  # refused before any work: exit 2
    assert main() == 2
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
