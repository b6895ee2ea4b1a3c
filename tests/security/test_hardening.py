"""Regression tests for bad input the chaos suite found: each once ended in a 500 or a message retried to
exhaustion instead of a 4xx problem or a dead letter.

- JSON the parser refuses although it is well-formed (nesting deeper than the recursion limit, an integer of
  more than 4300 digits) raised RecursionError/ValueError past the JSON error handling.
- `GET /api/pipeline/{id}` with `#`, `?` or a `.` segment in the id: the Durable client puts the id into its
  URL unescaped, read the instance *list* back and crashed.
- `request_id` "." (valid by the contract) became an instance id that cannot be addressed.
- A path with an encoded newline got aiohttp's own text/plain 404 instead of the app's problem.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import azure.functions as func
import httpx
import pytest

from tests.triggers.fake_client import FakeDurableClient, invocation_context
from triggers._http import BodyRejected, read_json_body
from triggers.http_start import start_pipeline
from triggers.queue_start import InvalidMessage, parse_question
from triggers.starting import instance_id_for, instance_id_for_message, is_instance_id
from triggers.status import get_pipeline_status

START = start_pipeline._function._func.client_function
STATUS = get_pipeline_status._function._func.client_function

UNREADABLE = [
    pytest.param(b"[" * 30_000 + b"]" * 30_000, id="nested-30000-deep"),
    pytest.param(b'{"question": "q", "top_k": 1' + b"0" * 4_300 + b"}", id="integer-4301-digits"),
]


@pytest.mark.parametrize("body", UNREADABLE)
def test_unreadable_json_in_a_queue_message_is_dead_lettered_as_invalid_json(body: bytes) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_question(body)
    assert caught.value.reason == "InvalidJson" and caught.value.description


@pytest.mark.parametrize("body", UNREADABLE)
def test_unreadable_json_over_http_is_a_400_problem(body: bytes) -> None:
    req = func.HttpRequest(
        "POST", "http://h/api/pipeline/start", headers={"Content-Type": "application/json"}, body=body
    )
    with pytest.raises(BodyRejected) as caught:
        read_json_body(req)
    assert caught.value.problem.status == 400
    response = asyncio.run(START(req, FakeDurableClient(), invocation_context()))
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"


class _ListingClient(FakeDurableClient):
    """Answers a status query the way the real client does when `#`/`?`/`.` cut its URL: it crashes."""

    async def get_status(self, instance_id: str) -> Any:
        if not is_instance_id(instance_id):
            raise TypeError("the instance list came back, not one status")
        return await super().get_status(instance_id)


@pytest.mark.parametrize("instance_id", ["#", "a?b", ".", "..", "x/y", "new\nline", "é", "a" * 101])
def test_status_of_an_id_no_run_can_have_is_404_and_never_reaches_the_client(instance_id: str) -> None:
    req = func.HttpRequest("GET", "http://h/api/pipeline/x", body=b"", route_params={"instance_id": instance_id})
    response = asyncio.run(STATUS(req, _ListingClient()))
    assert response.status_code == 404
    assert json.loads(response.get_body())["title"] == "Unknown instance"


def test_dot_request_ids_get_a_deterministic_addressable_instance_id() -> None:
    from contracts import Question

    for request_id in (".", ".."):
        question = Question(question="q", request_id=request_id)
        first, again = instance_id_for(question), instance_id_for_message("m1", question)
        assert first == again and first.startswith("rid-") and is_instance_id(first)
    assert instance_id_for(Question(question="q", request_id="...")) == "..."
    assert instance_id_for_message("..", Question(question="q")).startswith("msg-")


def test_a_path_with_an_encoded_newline_reaches_the_app_and_gets_its_problem(run_host: Any) -> None:
    async def scenario(host: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=host.base_url) as http:
            return await http.get("/api/nothing-here%0Areally")

    response = run_host(scenario)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_restarted_host_redelivers_messages_a_killed_host_had_locked_at_once(run_host: Any, tmp_path: Any) -> None:
    """Found by the crash scenario: a message locked when the host was killed waited out the whole lock
    duration (host.json's 5 minutes) before anyone delivered it again."""
    from embedded_host import LocalQueue, state_path

    data = tmp_path / "locked"
    with LocalQueue(state_path(data), "test-questions", lock_duration_s=300) as queue:
        queue.send(json.dumps({"q": 1}), message_id="locked-1")
        assert [m.message_id for m in queue.receive(1)] == ["locked-1"]  # a consumer took it, then died

    async def scenario(host: Any) -> Any:
        return await _wait_started(host, "locked-1")

    status = run_host(scenario, data)
    assert status is not None and status["runtimeStatus"] == "Completed"


async def _wait_started(host: Any, instance_id: str) -> Any:
    for _ in range(100):
        status = await host.wait_for_completion(instance_id, 5)
        if status is not None:
            return status
        await asyncio.sleep(0.05)
    return None


def test_provider_error_messages_and_their_causes_lose_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the secrets test: a server answering 401 with "Incorrect API key provided: <key>" put the
    key into the run's error, the Failed event and the span's exception stack trace."""
    from providers.azure.errors import redact, translating
    from providers.errors import ProviderError

    monkeypatch.setenv("OPENAI_API_KEY", "sentinel-unit-1234")
    from config import get_settings

    get_settings.cache_clear()
    assert redact("Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=abc/def=") == (
        "Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=***"
    )
    assert redact("Authorization: Bearer eyJhbGciOi.x-y") == "Authorization: Bearer ***"
    with pytest.raises(ProviderError) as caught, translating("openai chat"):
        raise ConnectionError("Incorrect API key provided: sentinel-unit-1234.")
    assert "sentinel-unit-1234" not in str(caught.value)
    assert "sentinel-unit-1234" not in str(caught.value.__cause__)
