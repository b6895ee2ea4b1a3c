"""The embedded host listens on loopback unless told otherwise, and says so loudly when told otherwise;
on Azure the start and status routes need a function key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli.main import _parser
from cli.serve import _is_loopback
from tests.processes import ROOT, free_port

WARNING = "warning: listening on"


def test_serve_defaults_to_loopback() -> None:
    args = _parser().parse_args(["serve"])
    assert args.host == "127.0.0.1"
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("::") and not _is_loopback("192.168.1.10")


def _serve(tmp_path: Path, *host: str) -> tuple[str, int]:
    """Start `pipeline serve [--host H]`, wait until it answers, stop it; returns (stderr, bound-address count)."""
    port = free_port()
    env = {**os.environ, "PIPELINE_DATA_DIR": str(tmp_path / f"data-{port}")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port), *host],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        listening = _listening_addresses(proc.pid, port)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    return stderr, listening


def _listening_addresses(pid: int, port: int) -> list[str]:
    psutil = pytest.importorskip("psutil")
    return sorted(
        c.laddr.ip
        for c in psutil.Process(pid).net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    )


@pytest.mark.e2e
def test_default_serve_binds_only_loopback_and_does_not_warn(tmp_path: Path) -> None:
    stderr, listening = _serve(tmp_path)
    assert listening == ["127.0.0.1"]
    assert WARNING not in stderr


@pytest.mark.e2e
def test_serving_on_all_interfaces_warns_that_there_is_no_authentication(tmp_path: Path) -> None:
    stderr, listening = _serve(tmp_path, "--host", "0.0.0.0")
    assert listening == ["0.0.0.0"]
    warning = next(line for line in stderr.splitlines() if line.startswith(WARNING))
    assert "0.0.0.0" in warning and "no authentication" in warning


def test_start_and_status_routes_require_a_function_key_on_azure() -> None:
    """The function metadata the Azure worker indexes (read in a fresh process: get_functions() runs once)."""
    script = (
        "import json, function_app\n"
        "print(json.dumps({f.get_function_name(): json.loads(f.get_function_json())"
        " for f in function_app.app.get_functions()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr
    levels = {
        name: binding.get("authLevel")
        for name, fn in json.loads(out.stdout.strip().splitlines()[-1]).items()
        for binding in fn["bindings"]
        if binding["type"] == "httpTrigger"
    }
    assert {name: str(level).upper() for name, level in levels.items() if name != "openapi_document"} == {
        "start_pipeline": "FUNCTION",
        "get_pipeline_status": "FUNCTION",
    }
    assert str(levels["openapi_document"]).upper() in ("ANONYMOUS", "FUNCTION")
