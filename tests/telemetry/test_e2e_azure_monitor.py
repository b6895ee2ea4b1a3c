"""End to end: `pipeline serve` with the real Azure Monitor distro, against a local ingestion endpoint.

Two questions, each with its own caller trace: the first needs a second `generate_answer` attempt,
the second fails for good (`PIPELINE_FAULTS`, seeded). Each must reach Application Insights as one
whole operation: the starter's request, one dependency per step attempt carrying the instance id,
the exception of each failed attempt, and no question text. Every column and `customDimensions`
key the workbook's queries read must be in what was sent.

The trace ids score high in the distro's sampling hash, and the questions come right after start-up:
under the distro's default rate-limited sampler (which this app replaces) both runs lost steps.
Nothing leaves the machine: the control plane, statsbeat and the cloud resource detectors are off.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import Server
from tests.telemetry.appinsights_receiver import AppInsightsReceiver
from tests.telemetry.kql import reads

pytest.importorskip("azure.monitor.opentelemetry", reason="needs the azure extra (azure-monitor-opentelemetry)")

pytestmark = pytest.mark.e2e

QUERIES = sorted((Path(__file__).resolve().parents[2] / "dashboards" / "queries").glob("*.kql"))
CALLER_SPAN = "b7ad6b7169203331"
RETRIED, FAILED = "ef2d127de37b942baad06145e54b0c61", "4523540f1504cd17100c4835e85b7eef"
QUESTION = "How does the pipeline retry a failed step?"
STEPS = ["embed_query", "search_documents", "generate_answer", "publish_result"]
# The local embedder and answerer count no tokens, so no token metric is sent here (a model server's
# usage is checked in test_content_and_metrics.py).
# Stale answers need a re-index after answers: their counter is checked in test_stale_telemetry.py.
NOT_SENT_LOCALLY = {
    "token-usage.kql": {"customDimensions['gen_ai.token.type']"},
    "stale-answers.kql": {"customDimensions['pipeline.source']"},
}


@pytest.fixture
def receiver() -> Iterator[AppInsightsReceiver]:
    found = AppInsightsReceiver()
    yield found
    found.close()


@pytest.fixture
def server(tmp_path: Path, receiver: AppInsightsReceiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    for name in [n for n in os.environ if n.startswith(("OTEL_", "APPLICATIONINSIGHTS_"))]:
        monkeypatch.delenv(name)  # the Server copies os.environ; the test's own settings follow
    env = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": receiver.connection_string,
        "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel",  # no Azure VM metadata lookup
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        # Draws 0.18, 0.66, 0.33, 0.20: the first run's answer fails once, the second's twice.
        "PIPELINE_FAULTS": "generation=transient:0.5",
        "PIPELINE_FAULTS_SEED": "18",
        "PIPELINE_RETRY_MAX_ATTEMPTS": "2",
        "PIPELINE_RETRY_FIRST_INTERVAL_MS": "50",
    }
    (tmp_path / "data").mkdir()
    found = Server(tmp_path / "data", env).start(timeout=60)
    yield found
    found.stop()


def _run(server: Server, trace_id: str) -> dict[str, Any]:
    started = httpx.post(
        server.base_url + "/api/pipeline/start",
        json={"question": QUESTION},
        headers={"traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"},
        timeout=10,
    )
    assert started.status_code == 202, started.text
    return server.wait_done(started.json()["instance_id"], timeout=60)


def _operation(receiver: AppInsightsReceiver, trace_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(table, r) for table, r in receiver.rows() if r["operation_Id"] == trace_id]


def _attempts(rows: list[tuple[str, dict[str, Any]]], step: str) -> list[dict[str, Any]]:
    return [r for table, r in rows if table == "dependencies" and r["name"] == f"pipeline.{step}"]


def _wait(receiver: AppInsightsReceiver, ready: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        spans = [(r["operation_Id"], r["name"]) for t, r in receiver.rows() if t in ("requests", "dependencies")]
        assert time.monotonic() < deadline, f"spans sent: {sorted(spans)}"
        time.sleep(0.2)


def test_each_run_is_one_whole_operation_with_every_column_the_workbook_reads(
    server: Server, receiver: AppInsightsReceiver
) -> None:
    retried, failed = _run(server, RETRIED), _run(server, FAILED)
    assert (retried["runtime_status"], failed["runtime_status"]) == ("Completed", "Failed")

    expected = {RETRIED: (retried, [1, 1, 2, 1]), FAILED: (failed, [1, 1, 2, 1])}
    _wait(
        receiver,
        lambda: (
            all([len(_attempts(_operation(receiver, t), s)) for s in STEPS] == n for t, (_, n) in expected.items())
            and {"pipeline.runs", "pipeline.step.retries"}
            <= {r["name"] for t, r in receiver.rows() if t == "customMetrics"}
        ),
    )
    for trace_id, (status, attempts) in expected.items():
        rows = _operation(receiver, trace_id)
        (request,) = [r for table, r in rows if table == "requests"]
        assert request["name"] == "POST /api/pipeline/start" and request["operation_ParentId"] == CALLER_SPAN
        for step, count in zip(STEPS, attempts, strict=True):
            found = sorted(_attempts(rows, step), key=lambda r: int(r["customDimensions"]["pipeline.attempt"]))
            assert [int(r["customDimensions"]["pipeline.attempt"]) for r in found] == list(range(1, count + 1))
            assert {r["customDimensions"]["pipeline.instance_id"] for r in found} == {status["instance_id"]}
        failures = [r for r in _attempts(rows, "generate_answer") if r["success"] is False]
        assert {r["customDimensions"]["pipeline.error_kind"] for r in failures} == {"transient"}
        assert len([r for table, r in rows if table == "exceptions"]) >= len(failures)
        assert QUESTION not in json.dumps(rows), "question text was sent without PIPELINE_RECORD_CONTENT"

    sent = receiver.rows()
    for query in QUERIES:
        tables, columns, dimensions = reads(query.read_text())
        used = [r for table, r in sent if table in tables]
        missing = {c for c in columns if all(r.get(c) in (None, "") for r in used)}
        missing |= {f"customDimensions[{d!r}]" for d in dimensions if all(d not in r["customDimensions"] for r in used)}
        missing -= NOT_SENT_LOCALLY.get(query.name, set())
        assert not missing, f"{query.name} reads what was never sent: {sorted(missing)}"
