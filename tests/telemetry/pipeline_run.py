"""One question through the real starter, orchestrator and activities, in-process.

The HTTP starter is called as the host calls it (a `func.HttpRequest` carrying a `traceparent`,
a fake durable client); its stored orchestration input then drives the orchestrator through the
replay driver, with the real activity functions on the local providers.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import azure.functions as func

from activities.embed_query import embed_query
from activities.generate_answer import generate_answer
from activities.publish_result import publish_result
from activities.search_documents import search_documents
from orchestration.orchestrator import pipeline_orchestrator
from tests.durable_replay import Outcome, ReplayDriver
from tests.triggers.fake_client import FakeDurableClient, invocation_context
from triggers.http_start import start_pipeline

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"

START = start_pipeline._function._func.client_function
ORCHESTRATOR = pipeline_orchestrator._function._func
ACTIVITIES = {
    "embed_query": embed_query._function._func,
    "search_documents": search_documents._function._func,
    "generate_answer": generate_answer._function._func,
    "publish_result": publish_result._function._func,
}


@dataclass
class Run:
    response: func.HttpResponse
    instance_id: str
    run_input: dict[str, Any]
    driver: ReplayDriver
    outcome: Outcome


def ask(
    question: str, *, top_k: int = 3, traceparent: str | None = TRACEPARENT, scopes: list[str] | None = None
) -> Run:
    headers = {"Content-Type": "application/json", **({"traceparent": traceparent} if traceparent else {})}
    request = func.HttpRequest(
        "POST",
        "http://localhost:7071/api/pipeline/start?code=secret-function-key",
        headers=headers,
        body=json.dumps({"question": question, "top_k": top_k, "scopes": scopes}).encode(),
    )
    client = FakeDurableClient()
    response = asyncio.run(START(request, client, invocation_context()))
    assert response.status_code == 202, response.get_body()
    _, instance_id, run_input = client.starts[0]
    driver = ReplayDriver(ORCHESTRATOR, ACTIVITIES, instance_id=instance_id)
    outcome = driver.run("pipeline_orchestrator", run_input)
    return Run(response, instance_id, run_input, driver, outcome)


def replay(run: Run) -> dict[str, Any]:
    """Hand the finished history to the orchestrator once more, as the extension does on a replay."""
    history = json.loads(json.dumps(run.outcome.history))
    for event in history:
        event["IsPlayed"] = True
    return run.driver.replay(history)
