"""End to end: `pipeline serve` exports its spans over OTLP/HTTP to a receiver in this test.

The receiver decodes each `ExportTraceServiceRequest` with `opentelemetry-proto`, as a collector
would; the question is POSTed with a `traceparent`, and every span of the run must arrive in
that trace.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.telemetry.ingest_receiver import IngestReceiver

_HINT = "needs opentelemetry-exporter-otlp-proto-http (and with it opentelemetry-proto) in the dev extra"
pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason=_HINT)
trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2", reason=_HINT)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
STEPS = ["embed_query", "search_documents", "generate_answer", "publish_result"]


class OtlpReceiver(IngestReceiver):
    """A minimal OTLP/HTTP endpoint: keeps decoded spans, accepts (and ignores) metrics and logs."""

    content_type = "application/x-protobuf"

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        super().__init__()

    def receive(self, path: str, body: bytes) -> bytes:
        if path == "/v1/traces":
            self._keep(body)
        return b""

    def _keep(self, body: bytes) -> None:
        request = trace_service.ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.lock:
            for resource_spans in request.resource_spans:
                service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            {
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "service": service,
                                "attributes": {a.key: a.value for a in span.attributes},
                            }
                        )

    def in_trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.spans if s["trace_id"] == trace_id]


def _pipeline_command() -> list[str]:
    """The installed `pipeline` beside this interpreter, else the module."""
    pipeline = Path(sys.executable).with_name("pipeline")
    return [str(pipeline)] if pipeline.exists() else [sys.executable, "-m", "cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    found = OtlpReceiver()
    yield found
    found.close()


@pytest.fixture
def server(tmp_path: Path, receiver: OtlpReceiver) -> Iterator[str]:
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "APPLICATIONINSIGHTS_"))}
    env = {
        **clean,
        "PIPELINE_DATA_DIR": str(tmp_path / "data"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within a fraction of a second, not 5 s
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
    }
    command = _pipeline_command()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([*command, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError("pipeline serve exited: " + (tmp_path / "serve.log").read_text())
            try:
                httpx.get(f"{base_url}/api/openapi.json", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base_url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_every_span_of_a_run_arrives_over_otlp_in_the_callers_trace(server: str, receiver: OtlpReceiver) -> None:
    started = httpx.post(
        f"{server}/api/pipeline/start",
        json={"question": "How does the pipeline retry a failed step?"},
        headers={"traceparent": TRACEPARENT},
        timeout=10,
    )
    assert started.status_code == 202, started.text
    instance_id = started.json()["instance_id"]
    deadline = time.monotonic() + 60
    while (status := httpx.get(f"{server}/api/pipeline/{instance_id}", timeout=5).json())["runtime_status"] not in (
        "Completed",
        "Failed",
    ):
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    assert status["runtime_status"] == "Completed", status

    wanted = {"POST /api/pipeline/start", *(f"pipeline.{step}" for step in STEPS)}
    deadline = time.monotonic() + 20
    while not wanted <= {s["name"] for s in receiver.in_trace(TRACE_ID)}:
        assert time.monotonic() < deadline, sorted(s["name"] for s in receiver.in_trace(TRACE_ID))
        time.sleep(0.1)

    spans = receiver.in_trace(TRACE_ID)
    starter = next(s for s in spans if s["name"] == "POST /api/pipeline/start")
    assert starter["parent_span_id"] == "b7ad6b7169203331"
    for step in STEPS:
        (span,) = [s for s in spans if s["name"] == f"pipeline.{step}"]
        assert span["parent_span_id"] == starter["span_id"]
        assert span["attributes"]["pipeline.instance_id"].string_value == instance_id
        assert span["attributes"]["pipeline.attempt"].int_value == 1
    assert {s["service"] for s in spans} == {"durable-ai-pipeline"}
    clients = {s["name"].split(" ", 1)[0] for s in spans if s["parent_span_id"] not in ("", starter["parent_span_id"])}
    assert {"embeddings", "retrieval", "chat", "send"} <= clients


def test_a_pipeline_ask_process_flushes_its_spans_before_it_ends(tmp_path: Path, receiver: OtlpReceiver) -> None:
    """`ask` leaves its process without the interpreter's teardown: its exporter's last flush must still run."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "APPLICATIONINSIGHTS_"))}
    env = {
        **clean,
        "PIPELINE_DATA_DIR": str(tmp_path / "data"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "60000",  # nothing leaves on the schedule: only the flush at exit sends it
    }
    command = _pipeline_command()
    done = subprocess.run(
        [*command, "ask", "How does the pipeline retry a failed step?", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    names = {span["name"] for span in receiver.spans}
    assert {f"pipeline.{step}" for step in STEPS} <= names, sorted(names)
