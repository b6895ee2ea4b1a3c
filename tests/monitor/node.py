"""Run a piece of the monitor's JavaScript under node (no browser): the page's modules are plain ES modules."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

STATIC = Path(__file__).resolve().parents[2] / "monitor" / "static"


def module_url(name: str) -> str:
    return json.dumps((STATIC / name).as_uri())


def run_node(script: str, stdin: str = "") -> Any:
    """Run ``script`` as an ES module; it prints one JSON value, which is returned."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the monitor's scripts cannot be run here")
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
