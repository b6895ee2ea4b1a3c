"""A state folder made by a command before any host starts (`enqueue`, `index`, `ask`) is its user's alone.

The host tightens the umask when it starts; these commands write the folder first (the queue, the index),
and once left it readable by everyone (0755 folders, 0644 files holding questions and documents).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT


def _run(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PIPELINE_EVENT_WEBHOOKS", "PIPELINE_FAULTS")}
    env |= {"PIPELINE_DATA_DIR": str(data), "PIPELINE_CONFIG": "/nonexistent", "PIPELINE_LOCAL_EMBEDDER": "hash"}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", [["enqueue", "Who may read my questions?"], ["index", "DOC"]])
def test_a_command_that_makes_the_state_folder_makes_it_owner_only(command: list[str], tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "vault.md"
    doc.parent.mkdir()
    doc.write_text("# Vault\n\nThe code of the vault is kept here.\n")
    os.chmod(tmp_path, 0o755)
    data = tmp_path / "new" / "state"
    done = _run([str(doc) if part == "DOC" else part for part in command], data)
    assert done.returncode == 0, done.stderr
    made = [data, *data.rglob("*")]
    assert len(made) > 1
    assert {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) & 0o077 for p in made} == {
        str(p.relative_to(tmp_path)): 0 for p in made
    }
