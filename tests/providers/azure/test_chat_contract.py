"""The refusal and citation contract on a chat model, over synthetic chat completions.

A local HTTP server answers the real `openai` SDK with the responses in `synthetic_completions.json`
(written for these tests in each service's response shape, not captured from a live model),
through both endpoints: an Azure OpenAI deployment and an OpenAI-compatible server. Whatever
the model wrote, the `Answer` either cites only passages that were given, sentence by sentence,
or is the fixed refusal with no citations; anything else fails the step as `rejected`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.errors import ErrorKind
from providers.azure.credentials import OpenAIConnection
from providers.azure.openai_chat import OpenAIChatGenerator
from providers.base import Answer, Passage
from providers.errors import ProviderError
from providers.refusal import NO_ANSWER

_SYNTHETIC_FILE = Path(__file__).with_name("synthetic_completions.json")
SYNTHETIC: dict[str, Any] = json.loads(_SYNTHETIC_FILE.read_text())["completions"]
QUESTION = "How does the pipeline retry a failed step?"
PASSAGES = [
    Passage(
        "orchestration#2",
        "Retries",
        "corpus/orchestration.md",
        "A failed step is retried by the orchestrator itself. Between attempts it waits on a durable timer. "
        "The waits double from 1 s: 1 s, 2 s, 4 s.",
        0.91,
    ),
    Passage(
        "errors#1",
        "Throttling",
        "corpus/errors.md",
        "A 429 carries Retry-After. The orchestrator waits that long instead of its own backoff.",
        0.74,
    ),
    Passage(
        "service-bus#4",
        "Dead-lettering invalid messages",
        "corpus/service-bus.md",
        "A message that is not a valid question is dead-lettered with a reason. It is not retried.",
        0.32,
    ),
]
ENDPOINTS: dict[str, tuple[Callable[[str], OpenAIChatGenerator], str]] = {
    "azure": (
        lambda url: OpenAIChatGenerator(
            OpenAIConnection(
                azure_endpoint=url, api_version="2024-10-21", credential="test-key", max_retries=0, timeout=5
            ),
            "chat-4o",
        ),
        "/openai/deployments/chat-4o/chat/completions",
    ),
    "compatible": (
        lambda url: OpenAIChatGenerator(
            OpenAIConnection(base_url=url + "/v1", credential="sk-local", max_retries=0, timeout=5), "llama3.1"
        ),
        "/v1/chat/completions",
    ),
}


@pytest.fixture(params=sorted(ENDPOINTS))
def ask(request: pytest.FixtureRequest, server, shapes) -> Callable[..., Answer]:
    """Ask through one endpoint, the server replaying the named completion; checks the request went there."""
    build, path = ENDPOINTS[request.param]

    def ask(name: str, passages: list[Passage] = PASSAGES) -> Answer:
        server.reply(shapes.reply(SYNTHETIC[name]))
        with build(server.url) as generator:
            try:
                return generator.answer(QUESTION, passages)
            finally:
                assert server.last.path == path

    return ask


def _usage(name: str) -> tuple[int, int]:
    usage = SYNTHETIC[name]["usage"]
    return usage["prompt_tokens"], usage["completion_tokens"]


def test_a_well_cited_answer_keeps_every_sentence_and_quotes_what_each_cites(ask, server) -> None:
    answer = ask("azure_cited_answer")
    assert answer.text == (
        "The orchestrator retries a failed step itself, waiting on a durable timer between attempts [1]. "
        "The waits double: 1 s, 2 s, then 4 s [1]. When the service answers with Retry-After, that wait is used "
        "instead [2]."
    )
    # One quote per cited passage, in citation order: the passage sentence the claims rely on.
    assert answer.quotes == {
        "orchestration#2": "Between attempts it waits on a durable timer.",
        "errors#1": "A 429 carries Retry-After.",
    }
    assert answer.model == "gpt-4o-2024-11-20"
    assert (answer.input_tokens, answer.output_tokens) == _usage("azure_cited_answer")
    # The model was asked for this contract: the fixed refusal is in the system message it got.
    assert NO_ANSWER in server.last.json()["messages"][0]["content"]


@pytest.mark.parametrize(
    "name", ["azure_refusal", "compatible_refusal_with_stray_citations", "compatible_common_refusal"]
)
def test_a_refusal_is_the_fixed_sentence_with_no_citations(ask, name) -> None:
    answer = ask(name)
    assert answer.text == NO_ANSWER
    assert answer.quotes == {}
    assert answer.model == SYNTHETIC[name]["model"]
    assert (answer.input_tokens, answer.output_tokens) == _usage(name)


@pytest.mark.parametrize("name", ["compatible_uncited_answer", "azure_cites_only_unknown_passages"])
def test_an_answer_that_cites_no_given_passage_is_a_rejected_step_error(ask, name) -> None:
    with pytest.raises(ProviderError) as caught:
        ask(name)
    assert caught.value.kind is ErrorKind.REJECTED
    assert not caught.value.retryable  # the same prompt would get the same reply
    assert caught.value.to_step_error().kind is ErrorKind.REJECTED
    assert "cites none of the 3 passages given" in caught.value.message


def test_the_models_own_safety_refusal_is_rejected(server, shapes) -> None:
    declined = shapes.chat("")
    declined["choices"][0]["message"].update(content=None, refusal="I can't help with that.")
    server.reply(shapes.reply(declined))
    with pytest.raises(ProviderError) as caught:
        ENDPOINTS["azure"][0](server.url).answer(QUESTION, PASSAGES)
    assert caught.value.kind is ErrorKind.REJECTED
    assert "declined: I can't help with that." in caught.value.message
