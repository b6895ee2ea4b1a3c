"""The embedded host listens on loopback unless told otherwise; told otherwise, it says so, asks for keys as
Azure does (kept in a file the console names, never printed or logged), and keeps a key given in a URL out of
its logs and telemetry.
On Azure the start and status routes need a function key.

Every request goes through 127.0.0.1, also to a host bound to 0.0.0.0: no traffic leaves this machine.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.main import _parser
from embedded_host.web.access import is_loopback
from embedded_host.web.keys import KEYS_FILE, HostKeys
from tests.processes import ROOT, free_port
from tests.security.fakes import FakeCollector

WARNING = "warning: listening on"
WEBHOOKS = "/runtime/webhooks/durabletask"


def test_serve_defaults_to_loopback() -> None:
    args = _parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.allow_host == []
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.168.1.10")
    assert _parser().parse_args(["serve", "--allow-host", "a.test", "--allow-host", "b.test"]).allow_host == [
        "a.test",
        "b.test",
    ]


def _serve(
    tmp_path: Path,
    *args: str,
    while_up: Callable[[str], Any] | None = None,
    env: dict[str, str] | None = None,
    data: Path | None = None,
) -> tuple[str, str, list[str], Any]:
    """Run `pipeline [-v] serve ARGS` until it answers, call ``while_up(base_url)``, stop it.

    Returns (stdout, stderr, listening addresses, what ``while_up`` returned)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, "PIPELINE_DATA_DIR": str(data or tmp_path / f"data-{port}"), **(env or {})}
    verbose = ["-v"] if "-v" in args else []
    rest = [a for a in args if a != "-v"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *verbose, "serve", "--port", str(port), *rest],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    result = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, "serve exited"
            try:
                if httpx.get(f"{base}/api/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        listening = _listening_addresses(proc.pid, port)
        if while_up is not None:
            result = while_up(base)
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=20)
    return stdout, stderr, listening, result


def _listening_addresses(pid: int, port: int) -> list[str]:
    psutil = pytest.importorskip("psutil")
    return sorted(
        c.laddr.ip
        for c in psutil.Process(pid).net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    )


@pytest.mark.e2e
def test_default_serve_binds_only_loopback_and_does_not_warn(tmp_path: Path) -> None:
    stdout, stderr, listening, _ = _serve(tmp_path)
    assert listening == ["127.0.0.1"]
    assert WARNING not in stderr and "keys" not in stdout


@pytest.mark.e2e
def test_serving_on_all_interfaces_asks_for_keys_and_names_their_file_without_printing_them(tmp_path: Path) -> None:
    data = tmp_path / "data"

    def calls(base: str) -> dict[str, int]:
        keys = HostKeys.parse((data / KEYS_FILE).read_text())
        question = {"question": "What is a task hub?"}
        durable = {"code": keys.durable_system}
        with httpx.Client(base_url=base, timeout=10) as http:
            return {
                "keyless durable list": http.get(f"{WEBHOOKS}/instances").status_code,
                "keyless start": http.post("/api/pipeline/start", json=question).status_code,
                "keyless openapi": http.get("/api/openapi.json").status_code,
                "keyed start": http.post(
                    "/api/pipeline/start", json=question, headers={"x-functions-key": keys.function}
                ).status_code,
                "system-keyed list": http.get(f"{WEBHOOKS}/instances", params=durable).status_code,
            }

    stdout, stderr, listening, status = _serve(tmp_path, "--host", "0.0.0.0", while_up=calls, data=data)
    assert listening == ["0.0.0.0"]
    warning = next(line for line in stderr.splitlines() if line.startswith(WARNING))
    assert "0.0.0.0" in warning and "key" in warning
    assert status == {
        "keyless durable list": 401,
        "keyless start": 401,
        "keyless openapi": 200,
        "keyed start": 202,
        "system-keyed list": 200,
    }
    keys = HostKeys.parse((data / KEYS_FILE).read_text())
    # Every question and answer is in the data folder: it and everything in it are the owner's only.
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    made = [p for p in data.rglob("*")]
    assert any(p.name == "durable.sqlite" for p in made)
    assert {str(p): oct(stat.S_IMODE(p.stat().st_mode) & 0o077) for p in made} == {str(p): "0o0" for p in made}
    # The console is often redirected to a file: it names where the keys are, never the keys.
    assert str(data / KEYS_FILE) in stdout
    for key in (keys.function, keys.durable_system, keys.master):
        assert key not in stdout + stderr
    again, again_err, _, _ = _serve(tmp_path, "--host", "0.0.0.0", data=data)
    assert HostKeys.parse((data / KEYS_FILE).read_text()) == keys
    assert str(data / KEYS_FILE) in again
    for key in (keys.function, keys.durable_system, keys.master):
        assert key not in again + again_err


@pytest.mark.e2e
def test_a_key_in_the_query_string_reaches_no_log_line_or_span(tmp_path: Path) -> None:
    """Keys written beforehand (so serve does not show them); every request carries one as `code=`."""
    data = tmp_path / "data"
    data.mkdir()
    keys = HostKeys(master="master-7d1e0b93", function="function-4a9c2f61", durable_system="durable-b38e5d07")
    (data / KEYS_FILE).write_text(keys.to_json())
    (data / KEYS_FILE).chmod(0o600)
    wrong = "wrong-key-e61f8a2c"
    collector = FakeCollector()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
    }

    def calls(base: str) -> list[int]:
        codes = []
        with httpx.Client(base_url=base, timeout=10) as http:
            for code in (keys.function, wrong):
                started = http.post("/api/pipeline/start", params={"code": code}, json={"question": "What is a run?"})
                codes.append(started.status_code)
            instance_id = http.post(
                "/api/pipeline/start", params={"code": keys.master}, json={"question": "What is a task hub?"}
            ).json()["instance_id"]
            deadline = time.monotonic() + 90  # the first run of a fresh data folder builds the sample index
            status_url = f"/api/pipeline/{instance_id}"
            while http.get(status_url, params={"code": keys.function}).json()["runtime_status"] not in (
                "Completed",
                "Failed",
            ):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            for code in (keys.durable_system, wrong):
                status = http.get(f"{WEBHOOKS}/instances/{instance_id}", params={"code": code, "showHistory": "true"})
                codes.append(status.status_code)
            codes.append(http.get("/api/nothing-here", params={"code": keys.function}).status_code)
        time.sleep(1.5)  # let the span and log exporters send
        return codes

    try:
        stdout, stderr, _, codes = _serve(tmp_path, "-v", "--host", "0.0.0.0", while_up=calls, data=data, env=env)
    finally:
        collector.close()
    assert codes == [202, 401, 200, 401, 404]
    telemetry = collector.raw().decode("utf-8", "replace")
    assert "pipeline.generate_answer" in telemetry, "the collector received no spans: the check would prove nothing"
    assert "INFO" in stderr, "serve logged nothing at -v: the check would prove nothing"
    for secret in (keys.master, keys.function, keys.durable_system, wrong):
        assert secret not in stdout + stderr, secret
        assert secret not in telemetry, secret


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
        "list_dead_letters": "FUNCTION",
        "list_undelivered_events": "FUNCTION",
    }
    assert str(levels["openapi_document"]).upper() in ("ANONYMOUS", "FUNCTION")
