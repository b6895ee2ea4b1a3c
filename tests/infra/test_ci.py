"""CI does not pass with the monitor's browser test untested: no chromium is a failure, not a skip."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e import test_monitor_browser
from tests.processes import ROOT


def test_ci_fails_when_chromium_cannot_be_installed(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for tool in ("apt-get", "sudo"):  # a machine where the install fails (no network, no rights)
        (fake_bin / tool).write_text("#!/bin/sh\nexit 100\n")
        (fake_bin / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}", "CHROMIUM": str(tmp_path / "no-chromium")}
    done = subprocess.run([ROOT / ".ci" / "chromium"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "could not be installed" in done.stderr


def test_ci_runs_the_browser_test_as_required() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert ".ci/chromium" in script and script.index(".ci/chromium") < script.index("scripts/test")
    assert "export PIPELINE_REQUIRE_BROWSER=1" in script


def test_a_missing_browser_fails_the_browser_test_where_it_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_monitor_browser, "_candidates", lambda: [None])
    monkeypatch.delenv("PIPELINE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception):
        test_monitor_browser._chromium()
    monkeypatch.setenv("PIPELINE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception):
        test_monitor_browser._chromium()
