"""`start_pipeline` and `get_pipeline_status` invoked as the host invokes them, with `func.HttpRequest`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import azure.functions as func
import pytest

from tests.triggers.fake_client import FakeDurableClient, invocation_context
from triggers.http_start import start_pipeline
from triggers.openapi import openapi_document
from triggers.status import get_pipeline_status

START = start_pipeline._function._func.client_function
STATUS = get_pipeline_status._function._func.client_function
URL = "http://localhost:7071/api/pipeline/start"


def request(body: Any, *, content_type: str = "application/json", raw: bytes | None = None) -> func.HttpRequest:
    data = raw if raw is not None else json.dumps(body).encode()
    return func.HttpRequest("POST", URL, headers={"Content-Type": content_type}, body=data)


def call(req: func.HttpRequest, client: FakeDurableClient) -> func.HttpResponse:
    return asyncio.run(START(req, client, invocation_context()))


def problem(resp: func.HttpResponse) -> dict[str, Any]:
    assert resp.headers["Content-Type"] == "application/problem+json"
    return json.loads(resp.get_body())


def test_accepts_a_question_and_answers_202_with_status_urls() -> None:
    client = FakeDurableClient()
    resp = call(request({"question": "  What is a task hub?  ", "top_k": 4}), client)

    assert resp.status_code == 202
    body = json.loads(resp.get_body())
    assert body["created"] is True
    assert body["status_url"] == f"http://localhost:7071/api/pipeline/{body['instance_id']}"
    assert resp.headers["Location"] == body["status_query_get_uri"]
    assert body["status_query_get_uri"].endswith(body["instance_id"])
    name, instance_id, run = client.starts[0]
    assert (name, instance_id) == ("pipeline_orchestrator", body["instance_id"])
    assert run["question"]["question"] == "What is a task hub?"
    assert run["question"]["top_k"] == 4
    assert set(run["retry"]) == {"embed_query", "search_documents", "generate_answer", "publish_result"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:7071/api/pipeline/start/", "http://localhost:7071/api/pipeline/q-1"),
        ("http://localhost:7071/api/pipeline/start?code=k", "http://localhost:7071/api/pipeline/q-1"),
        ("https://app.azurewebsites.net/API/Pipeline/Start/", "https://app.azurewebsites.net/API/pipeline/q-1"),
        ("http://127.0.0.1:7071/pipeline/start", "http://127.0.0.1:7071/pipeline/q-1"),  # routePrefix ""
    ],
)
def test_status_url_is_built_from_the_status_route_whatever_path_reached_the_start(url: str, expected: str) -> None:
    # A trailing slash once left `/api/pipeline/s<id>`: the URL was cut out of the request path.
    req = func.HttpRequest(
        "POST", url, headers={"Content-Type": "application/json"}, body=b'{"question": "q", "request_id": "q-1"}'
    )
    resp = call(req, FakeDurableClient())
    assert resp.status_code == 202
    assert json.loads(resp.get_body())["status_url"] == expected


def test_request_id_becomes_the_instance_id_and_a_repeat_does_not_start_again() -> None:
    client = FakeDurableClient()
    first = call(request({"question": "q", "request_id": "order-42"}), client)
    client.instances["order-42"]["status"] = "Completed"
    second = call(request({"question": "q", "request_id": "order-42"}), client)

    assert json.loads(first.get_body())["instance_id"] == "order-42"
    again = json.loads(second.get_body())
    assert second.status_code == 202 and again["created"] is False and again["status"] == "Completed"
    assert len(client.starts) == 1


@pytest.mark.parametrize("ended", ["Failed", "Terminated"])
def test_a_run_that_ended_without_an_answer_is_started_again_under_the_same_request_id(ended: str) -> None:
    client = FakeDurableClient()
    call(request({"question": "q", "request_id": "order-7"}), client)
    client.instances["order-7"]["status"] = ended
    again = call(request({"question": "q", "request_id": "order-7"}), client)
    body = json.loads(again.get_body())
    assert again.status_code == 202 and body["created"] is True and body["status"] == "Pending"
    assert [iid for _, iid, _ in client.starts] == ["order-7", "order-7"]
    # ... and once it is running (or completed), a repeat joins it instead
    call(request({"question": "q", "request_id": "order-7"}), client)
    assert len(client.starts) == 2


def test_concurrent_twins_start_one_instance() -> None:
    client = FakeDurableClient(start_delay=0.01)

    async def both() -> list[func.HttpResponse]:
        reqs = [request({"question": "q", "request_id": "twin"}) for _ in range(3)]
        return await asyncio.gather(*(START(r, client, invocation_context()) for r in reqs))

    responses = asyncio.run(both())
    assert [r.status_code for r in responses] == [202, 202, 202]
    assert len(client.starts) == 1
    assert sorted(json.loads(r.get_body())["created"] for r in responses) == [False, False, True]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": "q", "top_k": 0}, "top_k"),
        ({"question": "q", "top_k": 21}, "top_k"),
        ({"question": "q", "top_k": "three"}, "top_k"),
        ({"question": "q", "top_k": "3"}, "top_k"),
        ({"question": "q", "top_k": 3.0}, "top_k"),
        ({"question": "q", "top_k": True}, "top_k"),
        ({"question": "what\u0000now"}, "question"),
        ({"question": "q", "request_id": "has space"}, "request_id"),
        ({"question": "q", "request_id": "x" * 101}, "request_id"),
        ({"question": "q", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"question": "q", "metadata": {"k": "v" * 257}}, "metadata.k"),
        ({"question": "q", "surprise": 1}, "surprise"),
        ({"top_k": 3}, "question"),
    ],
)
def test_invalid_questions_are_400_problem_details_naming_the_field(body: dict[str, Any], field: str) -> None:
    client = FakeDurableClient()
    resp = call(request(body), client)
    assert resp.status_code == 400
    details = problem(resp)
    assert details["title"] == "Invalid question" and details["status"] == 400
    assert details["instance"] == "/api/pipeline/start"
    assert field in [e["field"] for e in details["errors"]]
    assert client.starts == []


@pytest.mark.parametrize(
    ("req", "status"),
    [
        (request(None, raw=b"{not json"), 400),
        (request(None, raw=b"\xff\xfe\x00"), 400),
        (request(None, raw=b"[1, 2]"), 400),
        (request(None, raw=b""), 400),
        (request({"question": "q"}, content_type="text/plain"), 415),
        (request(None, raw=b'{"question": "' + b"a" * (64 * 1024) + b'"}'), 413),
    ],
)
def test_bad_bodies_get_clear_problems_never_500(req: func.HttpRequest, status: int) -> None:
    resp = call(req, FakeDurableClient())
    assert resp.status_code == status
    assert problem(resp)["detail"]


def test_status_reports_step_and_result_and_404_for_unknown() -> None:
    client = FakeDurableClient()
    client.instances["done"] = {
        "status": "Completed",
        "custom_status": {"step": "publish_result", "done": True},
        "output": {
            "instance_id": "done",
            "question": "q",
            "answer": "a [1].",
            "citations": [{"id": "c", "title": "t", "source": "s", "score": 0.5, "quote": "a"}],
            "models": {},
            "timings_ms": {"embed_query": 1.0},
        },
    }
    client.instances["busy"] = {"status": "Running", "custom_status": {"step": "search_documents", "attempt": 2}}

    def get(instance_id: str) -> func.HttpResponse:
        req = func.HttpRequest(
            "GET", f"http://h/api/pipeline/{instance_id}", body=b"", route_params={"instance_id": instance_id}
        )
        return asyncio.run(STATUS(req, client))

    done = json.loads(get("done").get_body())
    assert done["runtime_status"] == "Completed" and done["result"]["answer"] == "a [1]."
    busy = json.loads(get("busy").get_body())
    assert (busy["runtime_status"], busy["step"], busy["attempt"]) == ("Running", "search_documents", 2)
    missing = get("nope")
    assert missing.status_code == 404 and problem(missing)["title"] == "Unknown instance"
    # GET on the start route matches {instance_id} too: 405 with Allow, unless a run is named "start"
    wrong_method = get("start")
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert problem(wrong_method)["instance"].endswith("/api/pipeline/start")
    client.instances["start"] = {"status": "Running", "custom_status": {"step": "embed_query", "attempt": 1}}
    assert get("start").status_code == 200


def test_openapi_document_is_3_1_and_covers_every_route() -> None:
    resp = openapi_document._function._func(func.HttpRequest("GET", "http://h/api/openapi.json", body=b""))
    doc = json.loads(resp.get_body())
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/api/pipeline/start",
        "/api/pipeline/{instance_id}",
        "/api/openapi.json",
        "/api/monitor/dead-letters",
        "/api/monitor/undelivered-events",
    }
    question = doc["components"]["schemas"]["Question"]
    assert question["additionalProperties"] is False
    assert question["properties"]["top_k"]["maximum"] == 20
    refs = json.dumps(doc).count("#/components/schemas/")
    assert refs > 0 and all(
        name in doc["components"]["schemas"] for name in ("StartResponse", "StatusResponse", "ProblemDetails", "Result")
    )


def test_openapi_document_passes_the_openapi_3_1_validator() -> None:
    from openapi_spec_validator import validate

    from triggers.openapi import build_document

    validate(build_document())  # raises on any schema error


def test_location_is_the_durable_status_url_with_its_key_not_the_function_key_route() -> None:
    # On Azure the extension's links carry its system key; /api/pipeline/{id} needs a function key (401).
    client = FakeDurableClient()
    links = client.get_client_response_links
    client.get_client_response_links = lambda req, iid: {  # type: ignore[method-assign]
        k: v + "?taskHub=hub&connection=Storage&code=SYSTEMKEY" for k, v in links(req, iid).items()
    }
    resp = call(request({"question": "What is a task hub?"}), client)
    assert resp.headers["Location"].endswith("code=SYSTEMKEY")
    assert "/runtime/webhooks/durabletask/instances/" in resp.headers["Location"]


def test_without_a_caller_trace_or_exporter_the_run_continues_the_invocations_trace() -> None:
    # Every invocation has a trace context (the Functions host's, or the embedded host's): the run and
    # its CloudEvent carry a traceparent even when the caller sent none and telemetry is off.
    client = FakeDurableClient()
    invocation = "00-11111111111111111111111111111111-2222222222222222-01"
    asyncio.run(START(request({"question": "q"}), client, invocation_context(invocation)))
    (_, _, run) = client.starts[0]
    assert run["traceparent"].split("-")[1] == "11111111111111111111111111111111"
